// Every function module; importing one registers it (with the Functions host) and lists it (for local/host).
import './runs';
import './pauses';
import './queues';
import './dashboard';
import './sweep';
import './orchestration';
import './openapi';
export { functions } from './define';
