// The variable `trellis cgi --relay` adds to the requests it forwards; import-free, so the relay stays light.

/**
 * `TRELLIS_RELAY=1` on a FastCGI or SCGI request says a CGI program relayed it: its SCRIPT_NAME is
 * the program's, set by the web server's CGI module, and is the mount point whatever the front end.
 */
export const RELAY_MARK = 'TRELLIS_RELAY';
