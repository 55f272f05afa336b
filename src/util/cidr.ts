// IP ranges written as CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses, for every list of trusted
// peers: the gateway listeners' `--gateway-trusted-peers` and the proxies' `--trust-proxy`.
import { BlockList, isIP } from 'node:net';

/** A value that is not an IP address or CIDR range; the message names it. */
export class CidrError extends Error {
  constructor(text: string, expected = 'an IP address or CIDR range (examples: 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8)') {
    super(`"${text}" is not ${expected}`);
    this.name = 'CidrError';
  }
}

/** `ip` without the IPv4-mapped prefix, so `::ffff:10.0.0.1` is judged as `10.0.0.1`. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * Parses CIDRs and single addresses (blanks around each ignored) into a BlockList; an IPv4-mapped
 * address (`::ffff:10.0.0.1`) counts as its IPv4 address, and IPv4-mapped peers match IPv4 ranges.
 * Throws a {@link CidrError} for an entry that is not `address` or `address/prefix` with a prefix
 * of 1 to 3 digits within the family's width. Pinned by test/proxy/trusted-proxies.test.ts and
 * test/channels/gateway.test.ts.
 */
export function parseCidrs(texts: Iterable<string>): BlockList {
  const list = new BlockList();
  for (const text of texts) {
    const [address = '', bits, extra] = text.trim().split('/');
    const ip = plainIp(address);
    const family = isIP(ip);
    if (!family || extra !== undefined) throw new CidrError(text);
    const max = family === 4 ? 32 : 128;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= max)) throw new CidrError(text);
    list.addSubnet(ip, prefix, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

/** Whether `ip` (IPv4-mapped counting as IPv4) is in `list`; text that is not an IP address never is. */
export function inRanges(list: BlockList, ip: string): boolean {
  const plain = plainIp(ip);
  const family = isIP(plain);
  return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}
