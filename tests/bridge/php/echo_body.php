<?php
// Answers the md5 and length of the request body (checks bodies stream intact).
$b = file_get_contents('php://input');
header('Content-Type: text/plain');
echo md5($b), ' ', strlen($b), "\n";
