import test from "ava";
import { topicDrift } from "../lib/migrations/apply/status.js";
import { emptyInfraMap, type InfraMap, type Topic } from "../lib/model/infra-map.js";

const topic = (name: string, extra: Partial<Topic> = {}): Topic => ({ name, partitions: 1, retentionMs: 604_800_000, config: {}, columns: [], lifeCycle: "FULLY_MANAGED", ...extra });
const state = (...topics: Topic[]): InfraMap => ({ ...emptyInfraMap(), topics: Object.fromEntries(topics.map((t) => [t.name, t])) });

test("topics as the migrations say are not drift; each difference is named", (t) => {
  t.deepEqual(topicDrift(state(topic("Events")), { Events: { name: "Events", partitions: 1, retentionMs: 604_800_000, replicationFactor: 3, config: { "cleanup.policy": "delete" } } }), []);
  t.deepEqual(
    topicDrift(state(topic("Events", { partitions: 2, config: { "cleanup.policy": "compact" } }), topic("Gone")), {
      Events: { name: "Events", partitions: 3, retentionMs: 1000, config: {} },
      Extra: { name: "Extra", partitions: 1, config: {} },
    }),
    [
      "topic Events has 3 partitions, the migrations say 2",
      "topic Events keeps records 1000 ms, the migrations say 604800000 ms",
      "topic Events has cleanup.policy = (unset), the migrations say compact",
      "topic Gone is missing from the stream engine",
    ],
  );
});
