#!/bin/sh
# demo-publish.sh — makes the demo pages move: publishes an order's status
# steps (paid, packed, shipped, delivered) to order-<id> and some stock and
# price changes to catalog, with pauses, through pushgated's publish API.
# Needs curl. Open order.html?order=<id> and catalog.html first.
#
# usage: demo-publish.sh [-u PUBLISH_URL] [-o ORDER] [-d SECONDS]
#   -u  publish listener (default $PUSHGATE_PUBLISH_URL or http://127.0.0.1:8081)
#   -o  order id (default 42)
#   -d  pause between messages in seconds (default 2; fractions work with GNU sleep)
# Set PUSHGATE_PUBLISH_SECRET if pushgated has publish_secret set.
set -eu

url=${PUSHGATE_PUBLISH_URL:-http://127.0.0.1:8081}
order=42
delay=2

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; exit "$1"; }

while getopts u:o:d:h opt; do
    case $opt in
    u) url=$OPTARG ;;
    o) order=$OPTARG ;;
    d) delay=$OPTARG ;;
    h) usage 0 ;;
    *) usage 2 >&2 ;;
    esac
done
case $order in
    ''|*[!A-Za-z0-9_-]*) echo "demo-publish.sh: order id may only hold letters, digits, - and _" >&2; exit 2 ;;
esac
command -v curl >/dev/null 2>&1 || { echo "demo-publish.sh: curl is needed" >&2; exit 1; }

# pub CHANNEL EVENT BODY
pub() {
    printf '%-12s %-7s %s\n' "$1" "$2" "$3"
    if [ -n "${PUSHGATE_PUBLISH_SECRET:-}" ]; then
        curl -fsS -o /dev/null -X POST -H "X-Event: $2" -H "Content-Type: application/json" \
            -H "Authorization: Bearer $PUSHGATE_PUBLISH_SECRET" --data-binary "$3" "$url/pub/$1"
    else
        curl -fsS -o /dev/null -X POST -H "X-Event: $2" -H "Content-Type: application/json" \
            --data-binary "$3" "$url/pub/$1"
    fi
    sleep "$delay"
}

echo "publishing to $url (order $order, ${delay}s apart)"
pub catalog stock  '{"sku":"mug-blue","stock":11}'
pub "order-$order" status '{"status":"paid","note":"Thank you! We received your payment."}'
pub catalog price  '{"sku":"tee-m","price":17.90}'
pub "order-$order" status '{"status":"packed","note":"2 items packed by Jonas in Hall B."}'
pub catalog stock  '{"sku":"cap-red","stock":2}'
pub "order-$order" status '{"status":"shipped","note":"Tracking number 00340434161094042557."}'
pub catalog stock  '{"sku":"mug-blue","stock":0}'
pub catalog stock  '{"sku":"bag-tote","stock":30}'
pub "order-$order" status '{"status":"delivered","note":"Left with your neighbour at no. 12."}'
pub catalog price  '{"sku":"socks-3","price":8.50,"stock":24}'
echo "done"
