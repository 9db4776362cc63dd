import { isIP } from 'node:net';
import { generate } from 'selfsigned';

/** A self-signed certificate for localhost, 127.0.0.1, ::1 (and `host`) that is its own CA: the local HTTPS fakes use it. */
export async function generateCertificate(host = 'localhost'): Promise<{ key: string; cert: string }> {
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const pems = await generate([{ name: 'commonName', value: host }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 365 * 24 * 60 * 60 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
          ...(host === 'localhost' || isIP(host) ? [] : [{ type: 2 as const, value: host }]),
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
