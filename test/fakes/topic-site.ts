/** The topic site: the pages the Serper fake's links point at. It lives in src/ because `topicflow demo` serves it too. */
export { startTopicSite, topicPage, type TopicSite, type TopicSiteOptions } from '../../src/app/demo/site.ts';
