<?php
/*
 * pushgate-publish.php — publish to pushgated with nothing but PHP's own
 * functions (fsockopen, fwrite, json_decode): no Composer, no curl
 * extension. Works on PHP 5.4 and later.
 *
 *   require_once '/usr/share/doc/pushgate/contrib/php/pushgate-publish.php';
 *   $r = pushgate_publish('order-42', json_encode(array('status' => 'shipped')),
 *                         array('event' => 'status'));
 *   if ($r['status'] >= 300) error_log('pushgate: ' . $r['body']);
 *
 * Options: 'address' (default unix:///run/pushgate/publish.sock, or
 * tcp://127.0.0.1:8081), 'event', 'secret' (pushgated's publish_secret;
 * default getenv('PUSHGATE_PUBLISH_SECRET')), 'timeout' (seconds, default 5).
 * Returns array('status' => HTTP status or 0 when pushgated is not
 * reachable, 'body' => reply body or the error text, 'json' => decoded reply).
 * Channel names are 1-128 of A-Z a-z 0-9 _ . : @ - ; join several with ','.
 */

function pushgate_publish($channels, $message, $opts = array())
{
    $address = isset($opts['address']) ? $opts['address'] : 'unix:///run/pushgate/publish.sock';
    $timeout = isset($opts['timeout']) ? $opts['timeout'] : 5;
    $secret = isset($opts['secret']) ? $opts['secret'] : getenv('PUSHGATE_PUBLISH_SECRET');
    $errno = 0;
    $errstr = '';
    $fp = @stream_socket_client($address, $errno, $errstr, $timeout);
    if (!$fp) {
        return array('status' => 0, 'body' => "cannot connect to $address: $errstr", 'json' => null);
    }
    stream_set_timeout($fp, $timeout);
    $path = '/pub/' . str_replace('%2C', ',', rawurlencode($channels));
    $head = "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
          . "Content-Type: application/octet-stream\r\n"
          . 'Content-Length: ' . strlen($message) . "\r\n";
    if (isset($opts['event'])) {
        $head .= 'X-Event: ' . str_replace(array("\r", "\n"), '', $opts['event']) . "\r\n";
    }
    if ($secret) {
        $head .= "Authorization: Bearer $secret\r\n";
    }
    fwrite($fp, $head . "\r\n" . $message);
    $reply = stream_get_contents($fp);
    fclose($fp);
    if ($reply === false || !preg_match('#^HTTP/1\.\d (\d{3})#', $reply, $m)) {
        return array('status' => 0, 'body' => 'no answer from pushgated', 'json' => null);
    }
    $parts = explode("\r\n\r\n", $reply, 2);
    $body = isset($parts[1]) ? $parts[1] : '';
    if (stripos($parts[0], "transfer-encoding: chunked") !== false) {
        $body = pushgate_dechunk($body);
    }
    return array('status' => (int)$m[1], 'body' => $body, 'json' => json_decode($body, true));
}

function pushgate_dechunk($s)
{
    $out = '';
    while (($nl = strpos($s, "\r\n")) !== false) {
        $len = hexdec(substr($s, 0, $nl));
        if ($len == 0) {
            break;
        }
        $out .= substr($s, $nl + 2, $len);
        $s = substr($s, $nl + 2 + $len + 2);
    }
    return $out;
}

if (PHP_SAPI === 'cli' && isset($argv[0]) && realpath($argv[0]) === realpath(__FILE__)) {
    if ($argc < 3) {
        fwrite(STDERR, "usage: php pushgate-publish.php CHANNEL MESSAGE [EVENT] [ADDRESS]\n");
        exit(2);
    }
    $o = array();
    if ($argc > 3 && $argv[3] !== '') {
        $o['event'] = $argv[3];
    }
    if ($argc > 4) {
        $o['address'] = $argv[4];
    }
    $r = pushgate_publish($argv[1], $argv[2], $o);
    echo $r['body'], "\n";
    exit($r['status'] >= 200 && $r['status'] < 300 ? 0 : 1);
}
