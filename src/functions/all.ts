// Every function module; importing one registers it (with the Functions host) and lists it (for local/host).
import './runs';
import './sweep';
export { functions } from './define';
