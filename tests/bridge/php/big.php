<?php
// Streams a large answer in pieces (checks streaming and back-pressure).
$n = isset($_GET['mb']) ? (int)$_GET['mb'] : 3;
header('Content-Type: application/octet-stream');
for ($i = 0; $i < $n * 16; $i++) {
    echo str_repeat(chr(65 + $i % 26), 65536);
}
