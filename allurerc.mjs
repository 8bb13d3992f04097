// Allure 3 configuration for `make report`: reports/allure-results -> reports/html (see README, "Reports").
// The categories come from the results' categories.json, which the kubeprop pytest plugin writes: one per
// invariant id. KUBEPROP_ALLURE_RESULTS and KUBEPROP_ALLURE_HISTORY point elsewhere (the report's own tests).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const results = process.env.KUBEPROP_ALLURE_RESULTS ?? "reports/allure-results";
const categoriesFile = join(results, "categories.json");
const categories = existsSync(categoriesFile) ? JSON.parse(readFileSync(categoriesFile, "utf8")) : [];

export default {
  name: "kubeprop conformance",
  output: "reports/html",
  // one line per generated report: the run-to-run history behind the trend charts and each test's history tab
  historyPath: process.env.KUBEPROP_ALLURE_HISTORY ?? "reports/allure-history.jsonl",
  categories: { rules: categories },
  plugins: {
    awesome: {
      options: {
        reportName: "kubeprop conformance",
        reportLanguage: "en",
        groupBy: ["parentSuite", "suite", "subSuite"],
      },
    },
  },
};
