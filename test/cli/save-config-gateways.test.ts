// The rest of the `--save-config` round trips (test/helpers/round-trip.ts): HTTPS, the access log,
// the gateways, the proxy options and virtual hosts.
import { registerRoundTrips, SECOND_FILE } from '../helpers/round-trip.js';

registerRoundTrips((c) => SECOND_FILE.has(c.name));
