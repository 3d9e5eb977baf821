<?php
/*
 * pushgate-auth.php — lets pushgated ask your shop's own PHP session who may
 * subscribe to a channel. Put it next to your PHP code and point a rule at
 * it in pushgate.conf, either straight at php-fpm or through your web server:
 *
 *   auth_fastcgi user.* unix:/run/php/php8.2-fpm.sock /var/www/shop/pushgate-auth.php
 *   auth_url     user.* http://127.0.0.1/pushgate-auth.php
 *
 * pushgated forwards the browser's Cookie and Origin headers and names the
 * channels asked for, comma-separated, in PUSHGATE_CHANNELS (FastCGI) or the
 * X-Pushgate-Channels header (HTTP). Any 2xx answer allows the subscription;
 * anything else refuses it, and a short body becomes the reason the browser
 * sees (WebSocket close 1008, or the HTTP status for SSE and long-poll).
 * pushgated caches an allow for auth_cache_ttl (30 s), never a refusal.
 *
 * The five lines below allow "user.<id>" to the logged-in user <id>; change
 * the session key and the channel test to your shop's own. Works on PHP 7.0+.
 */
session_start(['read_and_close' => true]);            // read the session, do not lock it
$user = $_SESSION['user_id'] ?? null;                 // whatever your login code stores
$channels = explode(',', $_SERVER['PUSHGATE_CHANNELS'] ?? $_SERVER['HTTP_X_PUSHGATE_CHANNELS'] ?? '');
foreach ($channels as $ch) if ($user === null || $ch !== "user.$user") { http_response_code($user === null ? 401 : 403); exit($user === null ? 'not logged in' : "not your channel: $ch"); }
http_response_code(204);                              // allowed
