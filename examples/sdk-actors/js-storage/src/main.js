// Uses every storage API of the Apify SDK, reads each back, and fails on any mismatch.
import { isDeepStrictEqual } from 'node:util';

import { Actor } from 'apify';

const BLOB = Buffer.alloc(4096, 0).map((_, i) => i % 256);

async function check(what, got, expected) {
    if (!isDeepStrictEqual(got, expected)) {
        await Actor.fail(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
    }
}

await Actor.init();

// Input.
const { nonce, count = 3, namedDataset } = (await Actor.getInput()) ?? {};
if (!nonce || !namedDataset) await Actor.fail('The input needs nonce and namedDataset');

// The default dataset, then a named one.
const items = Array.from({ length: count }, (_, index) => ({ index, nonce }));
await Actor.pushData(items);
await check('default dataset', (await (await Actor.openDataset()).getData()).items, items);
const dataset = await Actor.openDataset(namedDataset);
await dataset.pushData({ named: namedDataset, nonce });
await check('named dataset', (await dataset.getData()).items, [{ named: namedDataset, nonce }]);

// Key-value records: JSON and binary.
const record = { nonce, list: [1, 2.5, null, 'x'], nested: { ok: true } };
await Actor.setValue('json-record', record);
await check('json-record', await Actor.getValue('json-record'), record);
await Actor.setValue('binary-record', BLOB, { contentType: 'application/octet-stream' });
const blob = await Actor.getValue('binary-record');
await check('binary-record', Buffer.isBuffer(blob) && blob.equals(BLOB), true);
await check('missing record', await Actor.getValue('no-such-record'), null);

// The request queue: add (one, a batch, a duplicate), fetch, handle, reclaim.
const queue = await Actor.openRequestQueue();
const urls = ['a', 'b', 'c'].map((name) => `http://127.0.0.1/sdk/${name}`);
await queue.addRequest({ url: urls[0] });
await queue.addRequests(urls.slice(1).map((url) => ({ url })));
const duplicate = await queue.addRequest({ url: urls[0] });
await check('duplicate was already present', duplicate.wasAlreadyPresent, true);
const first = await queue.fetchNextRequest();
await check('first request', first?.url, urls[0]);
await queue.markRequestHandled(first);
const second = await queue.fetchNextRequest();
await check('second request', second?.url, urls[1]);
await queue.reclaimRequest(second, { forefront: true });
const again = await queue.fetchNextRequest();
await check('reclaimed request', again?.url, urls[1]);
await queue.markRequestHandled(again);
const third = await queue.fetchNextRequest();
await check('third request', third?.url, urls[2]);
await queue.markRequestHandled(third);
await check('queue finished', await queue.isFinished(), true);
await check('handled requests', await queue.handledCount(), 3);

// Pay-per-event charges (prices in .actor/actor.json).
let charged = await Actor.charge({ eventName: 'item-processed', count });
await check('item-processed charged', charged.chargedCount, count);
charged = await Actor.charge({ eventName: 'task-done' });
await check('task-done charged', charged.chargedCount, 1);

await Actor.setStatusMessage(`Checked every storage (${nonce})`);
await Actor.setValue('OUTPUT', { nonce, items: count, namedDataset });

await Actor.exit();
