// The hello-world leaf as a resource script, served by `trellis web --resource-script bench/servers/hello.rpy.js`;
// the same class as bench/servers/hello-trellis.mjs.
import { Resource } from 'trellis';

class Hello extends Resource {
  isLeaf = true;
  GET() {
    return 'Hello, world!';
  }
}

export const resource = new Hello();
