<?php
/*
 * admin/order_status.php — a plain, pushgate-unaware shop admin form that
 * sets an order's status (the kind of script a 2009-era shop has). It knows
 * nothing about pushgate: the tap publishes on its behalf when it answers
 * 2xx to a POST, following contrib/php/tap.rules. Protect /admin/ with the
 * web server's authentication: tap rules fire for whoever can make the
 * request.
 *
 * The "database" is a JSON file next to the demo (PUSHGATE_DEMO_DB or
 * /tmp/pushgate-demo-orders.json).
 */
$db = getenv('PUSHGATE_DEMO_DB') ?: sys_get_temp_dir() . '/pushgate-demo-orders.json';
$orders = is_file($db) ? json_decode(file_get_contents($db), true) : array();
$statuses = array('received', 'paid', 'packed', 'shipped', 'delivered');

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $id = isset($_POST['order_id']) ? (string)$_POST['order_id'] : '';
    $status = isset($_POST['status']) ? (string)$_POST['status'] : '';
    if (!preg_match('/^[0-9]{1,9}$/', $id) || !in_array($status, $statuses, true)) {
        http_response_code(400);
        echo "<p>Unknown order or status.</p>\n";
        exit;
    }
    $orders[$id] = array('status' => $status, 'updated' => date('c'));
    file_put_contents($db, json_encode($orders), LOCK_EX);
    echo '<p>Order ', htmlspecialchars($id), ' is now ', htmlspecialchars($status), ".</p>\n";
    echo '<p><a href="order_status.php">Back</a></p>', "\n";
    exit;
}
?>
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Order status (admin)</title></head>
<body>
<h1>Set an order's status</h1>
<form method="post" action="order_status.php">
  <label>Order <input name="order_id" value="42" size="6"></label>
  <select name="status">
<?php foreach ($statuses as $s) { echo "    <option>$s</option>\n"; } ?>
  </select>
  <button>Save</button>
</form>
</body></html>
