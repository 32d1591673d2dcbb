/**
 * Which addresses are the public internet (issue 31): used wherever the platform, or a job it
 * starts, is told to reach an address a user gave (webhooks, a samplesheet's remote inputs).
 */
import ipaddr from 'ipaddr.js';

/**
 * Why this IP address is not a public one (a webhook may not connect to it), or null when it may: only the public
 * internet. IPv4 must be ipaddr.js's `unicast` (every IANA special-purpose block is named
 * otherwise). An IPv6 address that carries an IPv4 one in its low 32 bits, IPv4-mapped
 * (`::ffff:a.b.c.d`) or IPv4-compatible (`::a.b.c.d`, deprecated), is judged as that IPv4
 * address first; any other IPv6 address must be global unicast (2000::/3) outside every
 * special-purpose block, which refuses site-local `fec0::/10`, NAT64, 6to4, Teredo and the
 * rest. `allowLoopback` (the local stack's sinks) admits 127.0.0.0/8 and ::1, nothing else.
 */
export function addressProblem(address: string, allowLoopback = false): string | null {
  if (!ipaddr.isValid(address)) return 'is not an IP address';
  const parsed = ipaddr.parse(address);
  let v4: ipaddr.IPv4 | null = parsed.kind() === 'ipv4' ? (parsed as ipaddr.IPv4) : null;
  if (!v4) {
    const v6 = parsed as ipaddr.IPv6;
    const high = v6.parts.slice(0, 6);
    if (v6.isIPv4MappedAddress()) v4 = v6.toIPv4Address();
    else if (high.every((part) => part === 0) && v6.range() !== 'loopback') {
      const [a, b] = v6.parts.slice(6) as [number, number];
      v4 = new ipaddr.IPv4([a >> 8, a & 0xff, b >> 8, b & 0xff]);
    } else {
      const range = v6.range();
      if (allowLoopback && range === 'loopback') return null;
      if (range !== 'unicast' || !v6.match(ipaddr.IPv6.parse('2000::'), 3))
        return `is a ${range === 'unicast' ? 'non-global' : range} IPv6 address, not a public one`;
      return null;
    }
  }
  const range = v4.range();
  if (allowLoopback && range === 'loopback') return null;
  return range === 'unicast' ? null : `is a ${range} address (${v4.toString()}), not a public one`;
}

/** Names that resolve inside a machine or a network, never on the internet. */
export function isLocalName(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.internal') ||
    host.endsWith('.local')
  );
}

/** Why a URL's host is not on the public internet, or null (a name is taken as public unless local). */
export function hostProblem(url: URL): string | null {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(host)) {
    const problem = addressProblem(host);
    return problem ? `${host} ${problem}` : null;
  }
  return isLocalName(host) ? `${host} is a local or internal name` : null;
}
