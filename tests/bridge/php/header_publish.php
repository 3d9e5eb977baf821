<?php
// A backend that adds one header to publish (the tap strips X-Pushgate-*).
header('X-Pushgate-Publish: stock-' . (isset($_GET['id']) ? $_GET['id'] : '7'));
header('X-Pushgate-Event: stock');
header('X-Pushgate-Data: {"left":3}');
header('X-Kept:   spacing  kept');
setcookie('sess', 'abc');
echo "stock updated\n";
