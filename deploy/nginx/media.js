// Signed media URLs at the edge, checked before the cache (js_set runs in the rewrite phase,
// before proxy_cache is consulted). The same rule as the origin's `server/src/media_url.rs`:
// s = hex HMAC-SHA256 of "{uri}\n{e}" under the 32-byte key, e = expiry in Unix seconds.
// Written for njs 0.7.9 (Debian bookworm): require('crypto'), Buffer, no async.

const crypto = require('crypto');

// 'ok', 'bad' (missing, malformed or wrong signature) or 'expired' (right signature, past e).
function check(r) {
    const e = r.args.e;
    let s = r.args.s;
    // A repeated parameter arrives as an array: refused like a malformed one.
    if (typeof e !== 'string' || typeof s !== 'string') {
        return 'bad';
    }
    if (!/^[0-9]{1,20}$/.test(e) || !/^[0-9a-fA-F]{64}$/.test(s)) {
        return 'bad';
    }
    s = s.toLowerCase();
    const key = Buffer.from(r.variables.media_key || '', 'hex');
    if (key.length !== 32) {
        r.error('media_key is not 64 hex digits: every signed request is refused');
        return 'bad';
    }
    const want = crypto.createHmac('sha256', key).update(r.uri + '\n' + e).digest('hex');
    // Constant time: look at every character whatever the first difference.
    let diff = 0;
    for (let i = 0; i < 64; i++) {
        diff |= want.charCodeAt(i) ^ s.charCodeAt(i);
    }
    if (diff !== 0) {
        return 'bad';
    }
    if (Number(e) < Math.floor(Date.now() / 1000)) {
        return 'expired';
    }
    return 'ok';
}

export default { check };
