import { createPause } from '../../../src/core/pauses/create';
import { pageView } from '../../../src/http/views/pauses';
import { htmlPage } from '../../../src/http/pages';
import { BASE, unitWorld } from './fakes';

/** A pause a Webhook activity waits on has no continuation: pages and email say so, not "… was started in ." */
describe('a pause waited on in place (callBackUri, no continuation)', () => {
  async function inPlace() {
    const w = unitWorld();
    const created = await createPause(w.deps, { callBackUri: 'https://adf.example/callback/1', data: { loadDate: '2026-11-28' }, notify: { to: ['owner@example.com'] } }, BASE);
    return { w, ...created };
  }

  it('when its pages render, then they speak of the waiting pipeline and show no empty factory or run id', async () => {
    const { pause, token } = await inPlace();
    const view = { ...pageView(pause), pageTitle: 'x', token, action: '/api/restart' };
    const confirm = String(htmlPage(200, 'confirm', view).body);
    expect(confirm).toContain('lets the waiting pipeline carry on');
    expect(confirm).not.toMatch(/resource group ,|subscription \)/);
    const approved = String(htmlPage(200, 'approved', { ...view, decidedAt: 'now' }).body);
    expect(approved).toContain('The waiting pipeline carries on');
    expect(approved).not.toMatch(/was started in|not known yet/);
    const rejected = String(htmlPage(200, 'rejected', { ...view, decidedAt: 'now' }).body);
    expect(rejected).toContain('its Webhook activity fails with Rejected');
    expect(rejected).not.toContain('will not run');
  });

  it('when its email is sent, then it names no empty factory and says the data goes back to the waiting pipeline', async () => {
    const { w } = await inPlace();
    const [mail] = w.mailer.sent;
    expect(mail?.text).toContain('A pipeline is waiting for this decision.');
    expect(mail?.text).not.toMatch(/Factory:/);
    expect(mail?.text).toContain('Data passed back to the waiting pipeline:');
    expect(mail?.html).toContain('waiting for this decision');
  });
});
