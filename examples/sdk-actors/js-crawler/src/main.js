// Crawls a site from the input's start URLs with Crawlee's CheerioCrawler: one dataset item
// (URL and title) per page, following the links on the same host.
import { Actor } from 'apify';
import { CheerioCrawler } from 'crawlee';

await Actor.init();

const { startUrls = [], maxRequestsPerCrawl = 100 } = (await Actor.getInput()) ?? {};
if (startUrls.length === 0) throw new Error('The input has no startUrls');

const crawler = new CheerioCrawler({
    maxRequestsPerCrawl,
    async requestHandler({ request, $, enqueueLinks, log }) {
        log.info(`Scraping ${request.loadedUrl}`);
        await Actor.pushData({ url: request.loadedUrl, title: $('title').text() });
        await enqueueLinks();
    },
});

await crawler.run(startUrls);

await Actor.exit();
