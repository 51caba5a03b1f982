/** Whether a `secureEnvironment` setting names the data folder's own Secure Environment (its keys are in the folder). */
export const isEmbedded = (setting: string | undefined): boolean => setting === undefined || setting === 'embedded';
