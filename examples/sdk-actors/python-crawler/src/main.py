"""Crawls a site from the input's start URLs with Crawlee's ParselCrawler: one dataset item
(URL and title) per page, following the links on the same host."""

from __future__ import annotations

from apify import Actor
from crawlee.crawlers import ParselCrawler, ParselCrawlingContext


async def main() -> None:
    async with Actor:
        actor_input = await Actor.get_input() or {}
        start_urls = [source['url'] for source in actor_input.get('startUrls', [])]
        if not start_urls:
            raise ValueError('The input has no startUrls')

        crawler = ParselCrawler(max_requests_per_crawl=actor_input.get('maxRequestsPerCrawl', 100))

        @crawler.router.default_handler
        async def default_handler(context: ParselCrawlingContext) -> None:
            url = context.request.loaded_url or context.request.url
            context.log.info(f'Scraping {url}')
            await context.push_data({'url': url, 'title': context.selector.css('title::text').get()})
            await context.enqueue_links()

        await crawler.run(start_urls)
