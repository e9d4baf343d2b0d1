// A shop's server session, sent with the official Segment Node SDK to an Actors host.
// usage: node send-session.mjs <host url> <write key> <anonymousId> <userId>
import { Analytics } from '@segment/analytics-node';

const [host, writeKey, anonymousId, userId] = process.argv.slice(2);
const analytics = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 2 });
const failures = [];
analytics.on('error', (err) => failures.push(err));

analytics.page({ anonymousId, name: 'Home', properties: { url: 'https://shop.example/' } });
analytics.track({ anonymousId, event: 'Product Viewed', properties: { product_id: 'sku-7', category: 'Shoes', price: 89.9 } });
analytics.track({ anonymousId, event: 'Product Added', properties: { product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 } });
analytics.identify({ anonymousId, userId, traits: { email: 'ada@example.com', first_name: 'Ada' } });
analytics.track({ anonymousId, userId, event: 'Order Completed', properties: { order_id: `o-${userId}`, total: 89.9, currency: 'EUR', products: [{ product_id: 'sku-7', category: 'Shoes', quantity: 1, price: 89.9 }] } });

await analytics.closeAndFlush({ timeout: 20000 });
if (failures.length > 0) {
  console.error(failures.map((f) => JSON.stringify({ code: f.code, reason: String(f.reason ?? f), status: f.reason?.response?.status ?? f.response?.status })).join('\n'));
  process.exit(1);
}
console.log('sent');
