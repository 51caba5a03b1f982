/**
 * How well-known secret tokens begin: GitHub's (`ghp_`, `gho_`, `github_pat_`), Stripe's secret keys (`sk_live_`,
 * `sk_test_`), Slack's (`xoxb-`, `xoxp-`, …), AWS access key ids (`AKIA`, and `ASIA` for temporary ones) and a JWT's
 * header (`eyJ`, base64url of `{"`). An identifier a log line would keep (`?actor=`, `?stream=node-…`) may be any
 * printable ASCII, so a token sent where an id goes fitted it (review 52); one beginning so is not kept. Kept short:
 * only prefixes no identifier of a fleet is likely to begin with, the log being what a false match costs.
 */
export const SECRET_TOKEN_PREFIXES: readonly string[] = ['ghp_', 'gho_', 'github_pat_', 'sk_live_', 'sk_test_', 'xox', 'AKIA', 'ASIA', 'eyJ'];

// At the start of the text or of a word in it (`operator:ghp_…`, `node-AKIA…`): linear, the prefixes being literals.
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const AT_A_WORD_START = new RegExp(`(?:^|[^A-Za-z0-9])(?:${SECRET_TOKEN_PREFIXES.map(literal).join('|')})`);

/** Whether the text, or a word of it, begins with the prefix of a well-known secret token. */
export const beginsLikeASecretToken = (text: string): boolean => AT_A_WORD_START.test(text);
