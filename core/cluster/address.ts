/**
 * Peer addresses as they travel between instances: `host:port`, already normalized by the CLI
 * (runtime-real/run-options.ts turns `:1234` and a bare host into this form). What an instance
 * announces is checked here before it reaches the peer address table, with the CLI's texts.
 */

export const ADDRESS_PORT_MAX = 65535;

/** Why `address` cannot be a peer address (`what` names it in the text), or undefined if it can. */
export function addressError(address: string, what: string): string | undefined {
  if (address === '') return `invalid ${what} address: empty`;
  const colons = address.split(':').length - 1;
  if (colons === 0) return `invalid ${what} address "${address}": no port`;
  if (colons > 1) return `invalid ${what} address "${address}": too many colons`;
  const [host, port] = address.split(':') as [string, string];
  if (host === '') return `invalid ${what} address "${address}": no host`;
  if (!/^\d{1,5}$/.test(port) || Number(port) === 0 || Number(port) > ADDRESS_PORT_MAX) return `invalid ${what} address "${address}": bad port "${port}"`;
  return undefined;
}
