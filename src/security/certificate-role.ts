import type { PeerCertificate } from '../transport/types.js';

const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * §5.1.6 The role a verified client certificate grants: its subject's OU (organizational unit), when that is
 * a role name (lowercase word such as `sensor`, `user`, `admin`); its CN names the principal (a sensor's id).
 * `nexo certs init` writes certificates this way. A certificate with no usable OU grants nothing: the
 * session is treated as one without a token.
 */
export function certificateIdentity(
  certificate: PeerCertificate,
): { role: string; principal: string | undefined } | undefined {
  const ou = certificate.organizationalUnit;
  if (ou === undefined || !ROLE.test(ou)) return undefined;
  return { role: ou, principal: certificate.commonName };
}
