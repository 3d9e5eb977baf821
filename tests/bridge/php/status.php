<?php
http_response_code(isset($_GET['code']) ? (int)$_GET['code'] : 200);
echo "status page\n";
