// Imported before the tests when TRELLIS_TEST_LIGHT_RESPONSE=1 (test/run.mjs): the tests then run with
// Trellis's LightResponse as the global Response, as `trellis web --app` serves a Fetch app.
import { installLightResponse } from '../../src/app/light-response.js';

installLightResponse();
