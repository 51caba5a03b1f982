/**
 * What a refusal of a secret file (a KEK) or of its folder says, when the file may be a secret a container platform
 * mounts: Docker and Kubernetes give such a file to root (uid 0), mode 0444 or 0644, on a read-only mount, where the
 * chown and chmod that fix a file on a disk cannot be done. Each refusal names what was found (owner, mode), the rule
 * and, one clause per case, what to set where the secret is mounted; never the file's content. The fields are the
 * platforms' own: the Compose file reference's secrets long syntax (`uid`, `gid`, `mode`, honoured by a swarm
 * service; a Compose `file:` secret is a bind mount of the host file, its owner and mode as on the host), and
 * Kubernetes' secret volume (`defaultMode`, default 0644; its files are root's, and a pod's `fsGroup` adds group read
 * to them, so a service of another account than root is given its own copy).
 */

/** What a secret file, or the folder it is kept in, is to the owner rule. */
export type SecretRole = 'secret file' | 'secret folder';

/** A mode as `ls` and the platforms' settings write it: 0444. */
export const octalMode = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** An account by uid, root named as such: the one every mounted secret is given to by default. */
const account = (uid: number): string => (uid === 0 ? 'root (uid 0)' : `uid ${uid}`);

/** How to give a mounted secret to the account `uid` with a mode no one else may read, per platform. */
const mountedOwnerAdvice = (uid: number): string =>
  `mounted as a Docker swarm secret, set its long syntax \`uid: "${uid}"\` and \`mode: 0400\`; as a Docker Compose \`file:\` secret (a bind mount of the host file), chown ${uid} and chmod 600 the host file; as a Kubernetes secret volume (whose files are root's, fsGroup or not), copy it at start, as uid ${uid}, into a folder that account makes with mode 0700 (an init container can, inside an emptyDir, which is itself open to all), the copy mode 0600, and name the copy`;

/**
 * The owner rule's refusal of a secret file `path` that uid `stat.uid` owns, not `expected` (this process's effective
 * uid): one clause for a mounted secret, one for a file on a disk. Root's file is refused as any other account's
 * (whoever owns the KEK may replace it), and one a service of another account can read at all is readable by group
 * or others too (0444, 0644, 0440 with fsGroup), so the mode found is named beside the owner.
 */
export const foreignSecretFileMessage = (path: string, stat: { readonly uid: number; readonly mode?: number }, expected: number): string => {
  const mode = stat.mode === undefined ? '' : `, mode ${octalMode(stat.mode)}`;
  const readable = stat.mode !== undefined && (stat.mode & 0o077) !== 0 ? `, and at mode ${octalMode(stat.mode)} group or others may read it too` : '';
  // Running as root's uid is no fix for a service account; for another account it may be the deployment's own.
  const onDisk =
    stat.uid === 0
      ? `chown ${expected} ${path} and chmod 600 ${path}`
      : `run Credence as uid ${stat.uid} if that is this deployment's account (sudo -u '#${stat.uid}' …), or chown ${expected} ${path}`;
  return `${path} is owned by ${account(stat.uid)}${mode}, not by uid ${expected} that Credence runs as: a KEK must be owned by the account that reads it (rule owner), since whoever owns it could read or replace it${readable}; ${mountedOwnerAdvice(expected)}; on a disk, ${onDisk}; if you do not know how it came there, do not use it`;
};

/**
 * The mode rule's refusal of a secret file of this account that group or others may read: chmod on a disk, the
 * mount's mode where it is mounted (read-only there).
 */
export const openSecretFileMessage = (mode: number, path: string): string =>
  `must not be readable by group or others (mode ${octalMode(mode)} found, owned by the account Credence runs as): on a disk, chmod 600 ${path}; mounted as a secret, set the mode where it is mounted: a Docker swarm secret's long syntax \`mode: 0400\`, a Kubernetes secret volume's \`defaultMode: 0400\` with no \`fsGroup\` (which adds group read), a Docker Compose \`file:\` secret's host file chmod 600`;

/**
 * The owner rule's refusal of the folder `folder` a secret file is kept in, owned by uid `uid`: accepted are the
 * account Credence runs as (`expected`) and root (a container's secrets mount is root's), anyone else could delete
 * or replace the file whatever its own owner.
 */
export const foreignSecretFolderMessage = (folder: string, uid: number, expected: number): string => {
  const accepted = expected === 0 ? 'not by root (uid 0) that Credence runs as' : `neither by uid ${expected} that Credence runs as nor by root (either may own it)`;
  const keep = expected === 0 ? 'a folder of root (mode 0700)' : `a folder of uid ${expected} (mode 0700) or of root (as a container's secrets mount is)`;
  return `${folder} is owned by uid ${uid}, ${accepted}: that account could delete or replace the KEK; keep the KEK in ${keep}, or chown ${expected} ${folder}`;
};
