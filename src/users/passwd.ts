// The user database UserDirectory reads: a parser of passwd(5) lines and the system's /etc/passwd,
// read again only when the file changes.
import { readFileSync, statSync } from 'node:fs';

/** One account of passwd(5). */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  /** The GECOS field; its first comma-separated part is the real name. */
  gecos: string;
  home: string;
  shell: string;
}

/** Where UserDirectory finds users: by name, and all of them for the listing. */
export interface UserDatabase {
  lookup(name: string): PasswdEntry | undefined;
  list(): PasswdEntry[];
}

/**
 * The accounts of a passwd(5) text, in order. A line without seven fields, with a uid or gid that
 * is not a number, or with a home that is not an absolute path is skipped (NIS `+`/`-` lines too).
 *
 * | line                                              | entry                                  |
 * |---------------------------------------------------|----------------------------------------|
 * | `alice:x:1000:1000:Alice L,,,:/home/alice:/bin/sh` | alice, 1000, 1000, `Alice L,,,`, /home/alice |
 * | `# comment`, `+::::::`, `bob:x:1:1:`              | none                                   |
 */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.replace(/\r$/, '').split(':');
    if (fields.length !== 7) continue;
    const [name, , uid, gid, gecos, home, shell] = fields as [string, string, string, string, string, string, string];
    if (!name || /^[+\-#]/.test(name) || !/^\d+$/.test(uid) || !/^\d+$/.test(gid) || !home.startsWith('/')) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid), gecos, home, shell });
  }
  return entries;
}

/** The name to show for `entry`: the first comma-separated part of GECOS, else the login name (as Twisted's UserDirectory). */
export function realName(entry: PasswdEntry): string {
  const first = entry.gecos.split(',')[0]?.trim();
  return first || entry.name;
}

/**
 * The accounts of a passwd file (default `/etc/passwd`), parsed again only when its size, mtime or
 * inode change. An unreadable file gives no users (every `~name` is then a 404).
 *
 * ```ts
 * const users = new PasswdFile();
 * users.lookup('alice')?.home; // '/home/alice'
 * ```
 */
export class PasswdFile implements UserDatabase {
  readonly path: string;
  #version = '';
  #entries: PasswdEntry[] = [];
  #byName = new Map<string, PasswdEntry>();

  constructor(path = '/etc/passwd') {
    this.path = path;
  }

  #load(): void {
    let version: string;
    try {
      const st = statSync(this.path);
      version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      version = 'missing';
    }
    if (version === this.#version) return;
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      // No file: no users.
    }
    this.#version = version;
    this.#entries = parsePasswd(text);
    // The first entry of a name wins, as getpwnam(3) does.
    this.#byName = new Map();
    for (const e of this.#entries) if (!this.#byName.has(e.name)) this.#byName.set(e.name, e);
  }

  lookup(name: string): PasswdEntry | undefined {
    this.#load();
    return this.#byName.get(name);
  }

  list(): PasswdEntry[] {
    this.#load();
    return [...this.#byName.values()];
  }
}
