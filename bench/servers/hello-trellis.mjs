// The hello-world leaf resource, served by `trellis web --class bench/servers/hello-trellis.mjs`.
import { Resource } from 'trellis';

export default class Hello extends Resource {
  isLeaf = true;
  GET() {
    return 'Hello, world!';
  }
}
