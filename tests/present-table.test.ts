import test from "ava";
import { renderTable } from "../cli/present/table.js";

test("renderTable pads columns to their widest cell", (t) => {
  t.is(renderTable(["a", "bb"], [["xyz", "1"], ["q", "22222"]]), "  a    bb\n  ---  -----\n  xyz  1\n  q    22222\n");
});

test("renderTable prints a million rows (a big moose query result) without overflowing the stack", (t) => {
  const rows = Array.from({ length: 1_000_000 }, (_, i) => [String(i), "x"]);
  const text = renderTable(["n", "v"], rows);
  t.is(text.split("\n").length, 1_000_003);
  t.true(text.startsWith("  n       v\n  ------  -\n  0       x\n"));
});
