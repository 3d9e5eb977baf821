<?php
/*
 * order.php — the customer's order page: shows the status from the shop's
 * "database" and updates it live when admin/order_status.php changes it
 * (published by the tap to order-<id>). The browser connects to /sub/ on
 * the same host (proxied to pushgated by the web server config in contrib/).
 */
$db = getenv('PUSHGATE_DEMO_DB') ?: sys_get_temp_dir() . '/pushgate-demo-orders.json';
$orders = is_file($db) ? json_decode(file_get_contents($db), true) : array();
$id = isset($_GET['id']) && preg_match('/^[0-9]{1,9}$/', $_GET['id']) ? $_GET['id'] : '42';
$status = isset($orders[$id]) ? $orders[$id]['status'] : 'received';
?>
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Order <?= htmlspecialchars($id) ?></title></head>
<body>
<h1>Order <?= htmlspecialchars($id) ?></h1>
<p>Status: <strong id="status"><?= htmlspecialchars($status) ?></strong></p>
<script src="/pushgate.js"></script>
<script>
  var sub = new PushgateSubscriber("/sub/order-<?= $id ?>");
  sub.on("message", function (m) {
    var d = JSON.parse(m.data);
    document.getElementById("status").textContent = d.status;
  });
</script>
</body></html>
