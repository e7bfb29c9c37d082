/**
 * Every provider of the topic-research job, faked at the protocol level on 127.0.0.1: Serper
 * (organic links point at the topic site), the topic site, OpenAI and Google Sheets. Returns the
 * environment that points the real clients at them.
 */
import { startSerperFake, type SerperFake, type SerperFakeOptions } from '../fakes/serper.ts';
import { startTopicSite, type TopicSite, type TopicSiteOptions } from '../fakes/topic-site.ts';
import { startOpenAIFake, type OpenAIFake, type OpenAIFakeOptions } from '../fakes/openai.ts';
import { startSheetsFake, type SheetsFake } from '../fakes/google-sheets.ts';

export interface TopicEnv {
  serper: SerperFake;
  site: TopicSite;
  openai: OpenAIFake;
  sheets: SheetsFake;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startTopicEnv(options: { serper?: SerperFakeOptions; site?: TopicSiteOptions; openai?: OpenAIFakeOptions; withOpenAI?: boolean } = {}): Promise<TopicEnv> {
  const site = await startTopicSite(options.site);
  const serper = await startSerperFake({ linkBaseUrl: site.url, ...options.serper });
  const openai = await startOpenAIFake(options.openai);
  const sheets = await startSheetsFake();
  const env: Record<string, string> = {
    SERPER_API_KEY: serper.apiKey,
    SERPER_BASE_URL: serper.url,
    ...sheets.env,
    ...(options.withOpenAI === false ? {} : { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url }),
  };
  return {
    serper, site, openai, sheets, env,
    async close() { await Promise.all([serper.close(), site.close(), openai.close(), sheets.close()]); },
  };
}

export { seedKeywords, type KeywordRow } from '../../src/app/workbook.ts';
