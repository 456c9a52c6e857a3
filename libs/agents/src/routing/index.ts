export * from './cloud-event-view';
export * from './json-logic-condition';
export * from './subscription-matcher';
