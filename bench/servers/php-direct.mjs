// bench/php/hello.php through a FastCGIClientResource as the whole site (no File in front), served by
// `trellis web --class bench/servers/php-direct.mjs` with BENCH_PHP_ADDRESS=tcp:127.0.0.1:PORT.
import { FastCGIClientResource } from 'trellis';

const root = new URL('../php/hello.php', import.meta.url).pathname;
export default new FastCGIClientResource({ address: process.env.BENCH_PHP_ADDRESS, scriptFilename: root });
