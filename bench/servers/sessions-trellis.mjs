// A session read-and-write per request: `trellis web --class bench/servers/sessions-trellis.mjs --sessions URL`.
import { Resource } from 'trellis';

export default class Count extends Resource {
  isLeaf = true;
  async GET(request) {
    const session = await request.getSession();
    const n = (session.get('n') ?? 0) + 1;
    session.set('n', n);
    return String(n);
  }
}
