// Two customers on one shop till (one anonymousId), sent with the official Segment Node SDK in one flush.
// usage: node send-shared-till.mjs <host url> <write key> <anonymousId> <first userId> <second userId>
import { Analytics } from '@segment/analytics-node';

const [host, writeKey, anonymousId, first, second] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushAt: 20, maxRetries: 2 });
const failures = [];
analytics.on('error', (err) => failures.push(err));

const order = (userId, total) => ({
  anonymousId, userId, event: 'Order Completed',
  properties: { order_id: `o-${userId}`, total, currency: 'EUR', products: [{ product_id: 'sku-1', quantity: 1, price: total }] },
});
analytics.identify({ anonymousId, userId: first, traits: { email: `${first}@example.com` } });
analytics.track(order(first, 40));
analytics.identify({ anonymousId, userId: second, traits: { email: `${second}@example.com` } });
analytics.track(order(second, 15));
analytics.track({ anonymousId, event: 'Product Viewed', properties: { product_id: 'sku-9' } });

await analytics.closeAndFlush({ timeout: 20000 });
if (failures.length > 0) {
  console.error(failures.map((f) => JSON.stringify({ code: f.code, reason: String(f.reason ?? f) })).join('\n'));
  process.exit(1);
}
console.log('sent');
