import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeAcs, type FakeAcs } from '../../local/fake-acs/server';
import { startTestStack, type TestStack } from '../support/test-stack';
import { newPause } from './pauses-support';

const SENDER = 'DoNotReply@conductor.example.com';

describe('the approval email through AcsMailer and the fake ACS endpoint', () => {
  let acs: FakeAcs;
  let stack: TestStack;
  let dir: string;
  beforeAll(async () => {
    acs = await startFakeAcs({ deliveryDelayMs: null }); // delivery never completes: the 201 must not wait for it
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acs-ca-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), acs.ca);
    stack = await startTestStack({
      scenario: { pipelines: { pl_continue: { durationMs: 100 } }, unknownPipelines: 'notFound' },
      env: { EMAIL_CONNECTION_STRING: acs.connectionString, EMAIL_SENDER: SENDER, EMAIL_CA_CERT: path.join(dir, 'ca.pem') },
    });
  });
  afterAll(async () => {
    await stack.close();
    await acs.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('when a pause notifies approvers, then one signed POST /emails:send carries the recipients, the subject and HTML holding the link', async () => {
    const { restartUrl, pauseId } = await newPause(stack, {
      continuation: { pipeline: 'pl_continue' },
      notify: { to: ['approver@example.com', 'second@example.com'], cc: ['ops@example.com'], subject: 'Approve the EU load', message: 'Counts look right.' },
    });
    const sends = acs.requests.filter((r) => r.method === 'POST' && r.path === '/emails:send');
    expect(sends).toHaveLength(1);
    const req = sends[0]!;
    expect([req.signatureValid, req.contentHashValid, req.status]).toEqual([true, true, 202]);
    expect(req.body?.senderAddress).toBe(SENDER);
    expect(req.body?.recipients?.to?.map((r) => r.address)).toEqual(['approver@example.com', 'second@example.com']);
    expect(req.body?.recipients?.cc?.map((r) => r.address)).toEqual(['ops@example.com']);
    expect(req.body?.content?.subject).toBe('Approve the EU load');
    const html = (req.body?.content?.html ?? '').replace(/&#x2F;/g, '/').replace(/&#x3D;/g, '=');
    expect(html).toContain(restartUrl);
    expect(html).toContain('Counts look right.');
    expect(html).toContain(pauseId);
    expect(req.body?.content?.plainText).toContain(restartUrl);
  });

  it('when ACS refuses the email, then the pause still stands and the answer says notified: false', async () => {
    acs.failNext({ status: 400, code: 'BadRequest' });
    const res = await stack.call('POST', '/pauses', { continuation: { pipeline: 'pl_continue' }, notify: { to: ['approver@example.com'] } });
    expect([res.status, res.json.notified]).toEqual([201, false]);
    expect((await stack.call('GET', `/pauses/${res.json.pauseId}`)).json.status).toBe('Waiting');
  });
});
