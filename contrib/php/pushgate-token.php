<?php
/*
 * pushgate-token.php — mints a pushgate subscriber token (JWT, HS256) with
 * nothing but PHP's own functions: no Composer, no extension beyond the
 * always-present hash and json. Works on PHP 7.0 and later.
 *
 * The secret is the one pushgated verifies tokens with; keep it out of the
 * document root and out of the browser. The token carries:
 *   exp       now + $ttl (pushgated allows 30 s of clock skew)
 *   channels  globs (fnmatch: * ? [...]) the browser may subscribe to
 *   publish   globs it may publish to (only when non-empty)
 *
 * Usage in a page:
 *
 *   require_once '/etc/pushgate/pushgate-token.php';
 *   $token = pushgate_token(getenv('PUSHGATE_SECRET'),
 *                           ['user.' . $user_id, 'news.*'], 3600);
 *   // hand $token to the browser client, e.g.
 *   printf('<script>var pushgateToken = %s;</script>', json_encode($token));
 *
 * From a shell (the secret comes from the environment, never from argv,
 * which other users can read in ps):
 *
 *   PUSHGATE_SECRET=... php pushgate-token.php [--ttl=N] [--publish=GLOB]... CHANNEL...
 */

function pushgate_base64url($bytes)
{
    return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
}

function pushgate_globs(array $globs, $what)
{
    $out = [];
    foreach ($globs as $g) {
        if (!is_string($g) || $g === '' || strpos($g, "\0") !== false) {
            throw new InvalidArgumentException("pushgate_token: each $what glob must be a non-empty string");
        }
        $out[] = $g;
    }
    return $out;
}

function pushgate_token($secret, array $channels, int $ttl = 3600, array $publish = [])
{
    if (!is_string($secret) || $secret === '') {
        throw new InvalidArgumentException('pushgate_token: empty secret');
    }
    if ($ttl < 1) {
        throw new InvalidArgumentException('pushgate_token: ttl must be at least 1 second');
    }
    $claims = ['exp' => time() + $ttl, 'channels' => pushgate_globs($channels, 'channel')];
    if ($publish) {
        $claims['publish'] = pushgate_globs($publish, 'publish');
    }
    $header = json_encode(['alg' => 'HS256', 'typ' => 'JWT']);
    $payload = json_encode($claims, JSON_UNESCAPED_SLASHES);
    if ($payload === false) {
        throw new InvalidArgumentException('pushgate_token: ' . json_last_error_msg());
    }
    $signing_input = pushgate_base64url($header) . '.' . pushgate_base64url($payload);
    $signature = hash_hmac('sha256', $signing_input, $secret, true);
    return $signing_input . '.' . pushgate_base64url($signature);
}

/* Command-line use: only when this file is the script being run. */
if (PHP_SAPI === 'cli' && isset($argv[0]) && realpath($argv[0]) === __FILE__) {
    $ttl = 3600;
    $publish = [];
    $channels = [];
    foreach (array_slice($argv, 1) as $arg) {
        if (strncmp($arg, '--ttl=', 6) === 0) {
            $ttl = (int)substr($arg, 6);
        } elseif (strncmp($arg, '--publish=', 10) === 0) {
            $publish[] = substr($arg, 10);
        } else {
            $channels[] = $arg;
        }
    }
    $secret = getenv('PUSHGATE_SECRET');
    if ($secret === false || $secret === '' || !$channels) {
        fwrite(STDERR, "usage: PUSHGATE_SECRET=... php pushgate-token.php [--ttl=N] [--publish=GLOB]... CHANNEL...\n");
        exit(2);
    }
    try {
        echo pushgate_token($secret, $channels, $ttl, $publish), "\n";
    } catch (InvalidArgumentException $e) {
        fwrite(STDERR, $e->getMessage() . "\n");
        exit(2);
    }
}
