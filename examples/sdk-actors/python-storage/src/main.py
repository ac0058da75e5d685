"""Uses every storage API of the Apify SDK, reads each back, and fails on any mismatch."""

from __future__ import annotations

from typing import Any

from apify import Actor, Request

BLOB = bytes(range(256)) * 16


def check(what: str, got: Any, expected: Any) -> None:
    if got != expected:
        raise RuntimeError(f'{what}: got {got!r}, expected {expected!r}')


async def main() -> None:
    async with Actor:
        # Input.
        actor_input = await Actor.get_input() or {}
        nonce, count, named = actor_input['nonce'], actor_input.get('count', 3), actor_input['namedDataset']

        # The default dataset, then a named one.
        items = [{'index': i, 'nonce': nonce} for i in range(count)]
        await Actor.push_data(items)
        check('default dataset', (await (await Actor.open_dataset()).get_data()).items, items)
        dataset = await Actor.open_dataset(name=named)
        await dataset.push_data({'named': named, 'nonce': nonce})
        check('named dataset', (await dataset.get_data()).items, [{'named': named, 'nonce': nonce}])

        # Key-value records: JSON and binary.
        record = {'nonce': nonce, 'list': [1, 2.5, None, 'x'], 'nested': {'ok': True}}
        await Actor.set_value('json-record', record)
        check('json-record', await Actor.get_value('json-record'), record)
        await Actor.set_value('binary-record', BLOB, content_type='application/octet-stream')
        check('binary-record', await Actor.get_value('binary-record'), BLOB)
        check('missing record', await Actor.get_value('no-such-record', default_value='default'), 'default')

        # The request queue: add (one, a batch, a duplicate), fetch, handle, reclaim.
        queue = await Actor.open_request_queue()
        urls = [f'http://127.0.0.1/sdk/{name}' for name in ('a', 'b', 'c')]
        await queue.add_request(urls[0])
        await queue.add_requests([Request.from_url(url) for url in urls[1:]])
        duplicate = await queue.add_request(urls[0])
        check('duplicate was already present', duplicate and duplicate.was_already_present, True)
        first = await queue.fetch_next_request()
        check('first request', first and first.url, urls[0])
        await queue.mark_request_as_handled(first)
        second = await queue.fetch_next_request()
        check('second request', second and second.url, urls[1])
        await queue.reclaim_request(second, forefront=True)
        again = await queue.fetch_next_request()
        check('reclaimed request', again and again.url, urls[1])
        await queue.mark_request_as_handled(again)
        third = await queue.fetch_next_request()
        check('third request', third and third.url, urls[2])
        await queue.mark_request_as_handled(third)
        check('queue finished', await queue.is_finished(), True)
        check('handled requests', await queue.get_handled_count(), 3)

        # Pay-per-event charges (prices in .actor/actor.json); a repeated key counts once.
        charged = await Actor.charge('item-processed', count=count)
        check('item-processed charged', charged.charged_count, count)
        for _ in range(2):
            charged = await Actor.charge('task-done', idempotency_key=f'{Actor.configuration.actor_run_id}-done')
            check('task-done charged', charged.charged_count, 1)

        await Actor.set_status_message(f'Checked every storage ({nonce})')
        await Actor.set_value('OUTPUT', {'nonce': nonce, 'items': count, 'namedDataset': named})
