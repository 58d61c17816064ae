// Tests of kEval commands (Redis read-modify-writes evaluated at apply time):
// their frozen encoding and strict decoder, EvaluateEval's answer and write
// for each command, expiry judged at the entry's commit timestamp, TTL
// metadata in the MVCC value, determinism across replicas and replays, and GC
// of expired versions.
#include <gtest/gtest.h>

#include <map>

#include "node/limits.h"
#include "node/shard_command.h"
#include "node/shard_state_machine.h"
#include "storage/fault_env.h"

namespace dkv::node {
namespace {

using raft::Entry;
using Kind = EvalResult::Kind;

constexpr int64_t kT0Ms = 1700000000000;  // a commit time, ms since the epoch
Timestamp AtMs(int64_t ms, uint32_t logical = 0) { return Timestamp{ms * 1000, logical}; }

EvalOp Op(EvalOpType type, std::string key) {
  EvalOp op;
  op.type = type;
  op.key = std::move(key);
  return op;
}
EvalOp Set(std::string key, std::string value, uint8_t flags = 0,
           ExpiryMode mode = ExpiryMode::kNone, int64_t ms = 0) {
  EvalOp op = Op(EvalOpType::kSet, std::move(key));
  op.value = std::move(value);
  op.flags = flags;
  op.expiry_mode = mode;
  op.expiry_ms = ms;
  return op;
}
EvalOp IncrBy(std::string key, int64_t d) {
  EvalOp op = Op(EvalOpType::kIncrBy, std::move(key));
  op.integer = d;
  return op;
}
EvalOp Expire(std::string key, ExpiryMode mode, int64_t ms, uint8_t flags = 0) {
  EvalOp op = Op(EvalOpType::kExpire, std::move(key));
  op.expiry_mode = mode;
  op.expiry_ms = ms;
  op.flags = flags;
  return op;
}

EvalResult R(Kind k, int64_t i = 0, std::string text = {}) { return EvalResult{k, i, text}; }

std::optional<EvalCurrent> Cur(std::string v, int64_t expire_at_ms = 0) {
  return EvalCurrent{std::move(v), expire_at_ms};
}

// --- Encoding -------------------------------------------------------------

TEST(EvalCommandTest, RoundTripsEveryOpType) {
  std::vector<EvalOp> ops = {
      Set("k", "v", kSetNx | kSetGet, ExpiryMode::kRelativeMs, 1500),
      Set("k", "v", kSetXx | kSetKeepTtl),
      IncrBy("n", -7),
      Op(EvalOpType::kGetDel, "k"),
      Op(EvalOpType::kPersist, "k"),
      Op(EvalOpType::kTtl, std::string("a\0b", 3)),
      Expire("k", ExpiryMode::kAbsoluteMs, -5, kExpireGt),
  };
  EvalOp f = Op(EvalOpType::kIncrByFloat, "f");
  f.value = "1.5e3";
  ops.push_back(f);
  EvalOp a = Op(EvalOpType::kAppend, "a");
  a.value = "tail";
  ops.push_back(a);
  EvalOp g = Op(EvalOpType::kGetEx, "g");
  g.expiry_mode = ExpiryMode::kPersist;
  ops.push_back(g);
  for (const EvalOp& op : ops) {
    ShardCommand c = ShardCommand::Eval(op);
    c.ts = AtMs(kT0Ms, 3);
    ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
    auto d = DecodeShardCommand(EncodeShardCommand(c));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, c);
  }
}

TEST(EvalCommandTest, EncodingIsTheFrozenOneOfDocsNodeMd) {
  ShardCommand c = ShardCommand::Eval(IncrBy("k", 2));
  c.ts = Timestamp{1700000000000000, 0};
  const std::string want(
      "\x01\x03\x80\x06\x0a\x24\x18\x1e\x40\x00\x00\x00\x00\x00"  // version, kEval, ts
      "\x02\x01k\x00\x00"                                         // kIncrBy, key, flags, mode
      "\x00\x00\x00\x00\x00\x00\x00\x00"                          // expiry ms
      "\x02\x00\x00\x00\x00\x00\x00\x00"                          // integer (fixed64 LE)
      "\x00",                                                     // empty value
      36);
  EXPECT_EQ(EncodeShardCommand(c), want);
}

TEST(EvalCommandTest, DecoderRejectsTruncationTrailingBytesAndMalformedOps) {
  ShardCommand c = ShardCommand::Eval(Set("key", "value", kSetNx, ExpiryMode::kRelativeMs, 10));
  const std::string enc = EncodeShardCommand(c);
  for (size_t n = 0; n < enc.size(); n++) {
    EXPECT_TRUE(DecodeShardCommand(enc.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeShardCommand(enc + "x").status().IsCorruption());
  // Byte 14 is the op type, 19 the flags, 20 the expiry mode.
  for (auto [at, byte] : std::vector<std::pair<size_t, char>>{
           {14, 0}, {14, 10}, {19, kSetNx | kSetXx}, {19, 0x10}, {20, 3}, {20, 4}}) {
    std::string bad = enc;
    bad[at] = byte;
    EXPECT_TRUE(DecodeShardCommand(bad).status().IsCorruption()) << at << " " << int(byte);
  }
}

TEST(EvalCommandTest, ValidateRefusesFieldsAnOpDoesNotUse) {
  EXPECT_FALSE(ShardCommand::Eval(Op(EvalOpType::kSet, "")).Validate().ok());  // empty key
  EvalOp ttl = Op(EvalOpType::kTtl, "k");
  ttl.value = "x";
  EXPECT_FALSE(ShardCommand::Eval(ttl).Validate().ok());
  EXPECT_FALSE(
      ShardCommand::Eval(Set("k", "v", kSetKeepTtl, ExpiryMode::kRelativeMs, 5)).Validate().ok());
  EXPECT_FALSE(ShardCommand::Eval(Set("k", "v", 0, ExpiryMode::kRelativeMs, 0)).Validate().ok());
  EXPECT_FALSE(ShardCommand::Eval(Expire("k", ExpiryMode::kNone, 0)).Validate().ok());
  EXPECT_FALSE(ShardCommand::Eval(Expire("k", ExpiryMode::kRelativeMs, 1, kExpireNx | kExpireGt))
                   .Validate()
                   .ok());
  EXPECT_FALSE(ShardCommand::Eval(Expire("k", ExpiryMode::kRelativeMs, 1, kExpireGt | kExpireLt))
                   .Validate()
                   .ok());
  EvalOp big = Set("k", std::string(kMaxValueBytes + 1, 'x'));
  EXPECT_FALSE(ShardCommand::Eval(big).Validate().ok());
  ShardCommand w = ShardCommand::Put("k", "v");
  w.eval = IncrBy("k", 1);
  EXPECT_FALSE(w.Validate().ok());
}

TEST(EvalCommandTest, ResultsRoundTripAndBadBytesAreCorruption) {
  for (const EvalResult& r :
       {R(Kind::kOk), R(Kind::kNull), R(Kind::kInteger, -42),
        R(Kind::kBulk, 0, std::string("a\0b", 3)), R(Kind::kError, 0, "ERR x")}) {
    auto d = DecodeEvalResult(EncodeEvalResult(r));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, r);
  }
  EXPECT_TRUE(DecodeEvalResult("").status().IsCorruption());
  std::string bad = EncodeEvalResult(R(Kind::kOk));
  bad[0] = 9;
  EXPECT_TRUE(DecodeEvalResult(bad).status().IsCorruption());
  EXPECT_TRUE(DecodeEvalResult(EncodeEvalResult(R(Kind::kOk)) + "x").status().IsCorruption());
}

TEST(MvccValueTest, ExpiryRoundTripsAndOldValuesHaveNone) {
  bool tomb;
  int64_t at;
  std::string_view v;
  // v points into the decoded bytes, so they must outlive the checks.
  const std::string with_expiry = EncodeMvccValue(false, 12345, "val");
  ASSERT_TRUE(DecodeMvccValue(with_expiry, &tomb, &at, &v).ok());
  EXPECT_FALSE(tomb);
  EXPECT_EQ(at, 12345);
  EXPECT_EQ(v, "val");
  // The layout before TTLs: empty metadata.
  const std::string old_layout("\x00\x00\x00old", 6);
  ASSERT_TRUE(DecodeMvccValue(old_layout, &tomb, &at, &v).ok());
  EXPECT_EQ(at, 0);
  EXPECT_EQ(v, "old");
  EXPECT_EQ(EncodeMvccValue(false, 0, "old"), std::string("\x00\x00\x00old", 6));
  // Unknown tag, short expiry, zero expiry.
  EXPECT_TRUE(DecodeMvccValue(std::string("\x00\x00\x01\x02", 4), &tomb, &at, &v).IsCorruption());
  EXPECT_TRUE(
      DecodeMvccValue(std::string("\x00\x00\x02\x01\x05", 5), &tomb, &at, &v).IsCorruption());
  EXPECT_TRUE(
      DecodeMvccValue(EncodeMvccValue(false, 1, "").replace(4, 1, "\x00", 1), &tomb, &at, &v)
          .IsCorruption());
  EXPECT_TRUE(ExpiredAt(5, AtMs(5)));
  EXPECT_FALSE(ExpiredAt(5, Timestamp{4999, 7}));
  EXPECT_FALSE(ExpiredAt(0, AtMs(kT0Ms)));
}

// --- EvaluateEval: each command's answer and write --------------------------

TEST(EvaluateEvalTest, SetWithOptions) {
  const int64_t now = kT0Ms;
  EvalOutcome o = EvaluateEval(Set("k", "v"), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kOk));
  EXPECT_EQ(o.write, EvalOutcome::Write::kPut);
  EXPECT_EQ(o.expire_at_ms, 0);
  // NX on an existing key: nil, nothing written; XX on a missing one likewise.
  o = EvaluateEval(Set("k", "v", kSetNx), Cur("old"), now);
  EXPECT_EQ(o.result, R(Kind::kNull));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  o = EvaluateEval(Set("k", "v", kSetXx), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kNull));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  // GET answers the old value, also when NX blocks the write (Redis 7).
  o = EvaluateEval(Set("k", "v", kSetGet | kSetNx), Cur("old"), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "old"));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  o = EvaluateEval(Set("k", "v", kSetGet), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kNull));
  EXPECT_EQ(o.write, EvalOutcome::Write::kPut);
  // EX (relative, from the entry's time), PXAT, KEEPTTL, and a plain SET drops the TTL.
  o = EvaluateEval(Set("k", "v", 0, ExpiryMode::kRelativeMs, 10000), std::nullopt, now);
  EXPECT_EQ(o.expire_at_ms, now + 10000);
  o = EvaluateEval(Set("k", "v", 0, ExpiryMode::kAbsoluteMs, now + 5), std::nullopt, now);
  EXPECT_EQ(o.expire_at_ms, now + 5);
  o = EvaluateEval(Set("k", "v", kSetKeepTtl), Cur("old", now + 77), now);
  EXPECT_EQ(o.expire_at_ms, now + 77);
  o = EvaluateEval(Set("k", "v"), Cur("old", now + 77), now);
  EXPECT_EQ(o.expire_at_ms, 0);
  // A time already past leaves no key (answers OK).
  o = EvaluateEval(Set("k", "v", 0, ExpiryMode::kAbsoluteMs, now - 1), Cur("old"), now);
  EXPECT_EQ(o.result, R(Kind::kOk));
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
  // An expiry that overflows is Redis's error, nothing written.
  o = EvaluateEval(Set("k", "v", 0, ExpiryMode::kRelativeMs, INT64_MAX), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR invalid expire time in 'set' command"));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
}

TEST(EvaluateEvalTest, IncrementsKeepTheTtlAndRefuseNonNumbersAndOverflow) {
  const int64_t now = kT0Ms;
  EvalOutcome o = EvaluateEval(IncrBy("n", 1), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 1));
  EXPECT_EQ(o.value, "1");
  o = EvaluateEval(IncrBy("n", -5), Cur("10", now + 9), now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 5));
  EXPECT_EQ(o.expire_at_ms, now + 9);
  for (const char* bad : {"abc", " 1", "01", "+1", "1.0", "", "99999999999999999999"}) {
    o = EvaluateEval(IncrBy("n", 1), Cur(bad), now);
    EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR value is not an integer or out of range")) << bad;
    EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  }
  o = EvaluateEval(IncrBy("n", 1), Cur(std::to_string(INT64_MAX)), now);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR increment or decrement would overflow"));
  o = EvaluateEval(IncrBy("n", INT64_MIN), Cur("-1"), now);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR increment or decrement would overflow"));

  EvalOp f = Op(EvalOpType::kIncrByFloat, "f");
  f.value = "0.1";
  o = EvaluateEval(f, Cur("10.5"), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "10.6"));
  EXPECT_EQ(o.value, "10.6");
  f.value = "5.0e3";
  o = EvaluateEval(f, Cur("3", now + 1), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "5003"));
  EXPECT_EQ(o.expire_at_ms, now + 1);
  o = EvaluateEval(f, Cur("x"), now);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR value is not a valid float"));
  f.value = "abc";
  o = EvaluateEval(f, Cur("1"), now);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR value is not a valid float"));
  f.value = "1e4932";
  o = EvaluateEval(f, Cur("1e4932"), now);  // beyond the largest long double
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR increment would produce NaN or Infinity"));
}

TEST(EvaluateEvalTest, AppendGetDelGetExPersistAndTtl) {
  const int64_t now = kT0Ms;
  EvalOp a = Op(EvalOpType::kAppend, "a");
  a.value = "lo";
  EvalOutcome o = EvaluateEval(a, Cur("hel", now + 3), now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 5));
  EXPECT_EQ(o.value, "hello");
  EXPECT_EQ(o.expire_at_ms, now + 3);
  o = EvaluateEval(a, std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 2));

  o = EvaluateEval(Op(EvalOpType::kGetDel, "k"), Cur("v"), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "v"));
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
  o = EvaluateEval(Op(EvalOpType::kGetDel, "k"), std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kNull));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);

  EvalOp g = Op(EvalOpType::kGetEx, "g");
  o = EvaluateEval(g, Cur("v", now + 5), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "v"));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  g.expiry_mode = ExpiryMode::kPersist;
  o = EvaluateEval(g, Cur("v", now + 5), now);
  EXPECT_EQ(o.write, EvalOutcome::Write::kPut);
  EXPECT_EQ(o.expire_at_ms, 0);
  g.expiry_mode = ExpiryMode::kRelativeMs;
  g.expiry_ms = 2000;
  o = EvaluateEval(g, Cur("v"), now);
  EXPECT_EQ(o.expire_at_ms, now + 2000);
  g.expiry_mode = ExpiryMode::kAbsoluteMs;
  g.expiry_ms = now;  // not in the future: the key goes
  o = EvaluateEval(g, Cur("v"), now);
  EXPECT_EQ(o.result, R(Kind::kBulk, 0, "v"));
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
  o = EvaluateEval(g, std::nullopt, now);
  EXPECT_EQ(o.result, R(Kind::kNull));

  o = EvaluateEval(Op(EvalOpType::kPersist, "k"), Cur("v", now + 5), now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 1));
  EXPECT_EQ(o.expire_at_ms, 0);
  o = EvaluateEval(Op(EvalOpType::kPersist, "k"), Cur("v"), now);
  EXPECT_EQ(o.result, R(Kind::kInteger, 0));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);

  EXPECT_EQ(EvaluateEval(Op(EvalOpType::kTtl, "k"), std::nullopt, now).result,
            R(Kind::kInteger, -2));
  EXPECT_EQ(EvaluateEval(Op(EvalOpType::kTtl, "k"), Cur("v"), now).result, R(Kind::kInteger, -1));
  EXPECT_EQ(EvaluateEval(Op(EvalOpType::kTtl, "k"), Cur("v", now + 1234), now).result,
            R(Kind::kInteger, 1234));
}

TEST(EvaluateEvalTest, ExpireWithNxXxGtLt) {
  const int64_t now = kT0Ms;
  auto ex = [&](uint8_t flags, std::optional<EvalCurrent> cur, int64_t in_ms = 1000) {
    return EvaluateEval(Expire("k", ExpiryMode::kRelativeMs, in_ms, flags), cur, now);
  };
  EXPECT_EQ(ex(0, std::nullopt).result, R(Kind::kInteger, 0));
  EvalOutcome o = ex(0, Cur("v"));
  EXPECT_EQ(o.result, R(Kind::kInteger, 1));
  EXPECT_EQ(o.expire_at_ms, now + 1000);
  EXPECT_EQ(o.value, "v");
  EXPECT_EQ(ex(kExpireNx, Cur("v", now + 5)).result, R(Kind::kInteger, 0));
  EXPECT_EQ(ex(kExpireNx, Cur("v")).result, R(Kind::kInteger, 1));
  EXPECT_EQ(ex(kExpireXx, Cur("v")).result, R(Kind::kInteger, 0));
  EXPECT_EQ(ex(kExpireXx, Cur("v", now + 5)).result, R(Kind::kInteger, 1));
  EXPECT_EQ(ex(kExpireGt, Cur("v")).result, R(Kind::kInteger, 0));  // none = infinite
  EXPECT_EQ(ex(kExpireGt, Cur("v", now + 5)).result, R(Kind::kInteger, 1));
  EXPECT_EQ(ex(kExpireGt, Cur("v", now + 5000)).result, R(Kind::kInteger, 0));
  EXPECT_EQ(ex(kExpireLt, Cur("v")).result, R(Kind::kInteger, 1));
  EXPECT_EQ(ex(kExpireLt, Cur("v", now + 5)).result, R(Kind::kInteger, 0));
  // A time not in the future deletes the key and answers 1.
  o = ex(0, Cur("v"), 0);
  EXPECT_EQ(o.result, R(Kind::kInteger, 1));
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
  o = EvaluateEval(Expire("k", ExpiryMode::kAbsoluteMs, -10), Cur("v"), now);
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
}

TEST(EvaluateEvalTest, MSetNxAndRenameReadTheOtherKeys) {
  const int64_t now = kT0Ms;
  std::map<std::string, EvalCurrent> others = {{"b", EvalCurrent{"B", now + 9}}};
  EvalLookup lookup = [&](const std::string& k) -> std::optional<EvalCurrent> {
    auto it = others.find(k);
    if (it == others.end()) return std::nullopt;
    return it->second;
  };
  EvalOp m = Op(EvalOpType::kMSetNx, "a");
  m.value = EncodeKeyValuePairs({{"a", "1"}, {"c", "3"}});
  EvalOutcome o = EvaluateEval(m, std::nullopt, now, lookup);
  EXPECT_EQ(o.result, R(Kind::kInteger, 1));
  EXPECT_EQ(o.more, (std::vector<EvalKeyWrite>{{"a", false, "1", 0}, {"c", false, "3", 0}}));
  m.value = EncodeKeyValuePairs({{"a", "1"}, {"b", "2"}});  // b exists: nothing written
  o = EvaluateEval(m, std::nullopt, now, lookup);
  EXPECT_EQ(o.result, R(Kind::kInteger, 0));
  EXPECT_TRUE(o.more.empty());
  o = EvaluateEval(m, Cur("x"), now, lookup);
  EXPECT_EQ(o.result, R(Kind::kInteger, 0));

  EvalOp r = Op(EvalOpType::kRename, "a");
  r.value = "z";
  o = EvaluateEval(r, std::nullopt, now, lookup);
  EXPECT_EQ(o.result, R(Kind::kError, 0, "ERR no such key"));
  o = EvaluateEval(r, Cur("A", now + 5), now, lookup);  // the TTL moves along
  EXPECT_EQ(o.result, R(Kind::kOk));
  EXPECT_EQ(o.write, EvalOutcome::Write::kDelete);
  EXPECT_EQ(o.more, (std::vector<EvalKeyWrite>{{"z", false, "A", now + 5}}));
  r.value = "b";
  r.flags = kRenameNx;
  o = EvaluateEval(r, Cur("A"), now, lookup);
  EXPECT_EQ(o.result, R(Kind::kInteger, 0));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);
  r.value = "a";  // onto itself
  EXPECT_EQ(EvaluateEval(r, Cur("A"), now, lookup).result, R(Kind::kInteger, 0));
  r.flags = 0;
  o = EvaluateEval(r, Cur("A"), now, lookup);
  EXPECT_EQ(o.result, R(Kind::kOk));
  EXPECT_EQ(o.write, EvalOutcome::Write::kNone);

  // Malformed pairs or names are refused by Validate (so by the decoder).
  m.value = EncodeKeyValuePairs({{"other-first", "1"}});
  EXPECT_FALSE(ShardCommand::Eval(m).Validate().ok());
  m.value = "\x02";
  EXPECT_FALSE(ShardCommand::Eval(m).Validate().ok());
  r.value = "";
  EXPECT_FALSE(ShardCommand::Eval(r).Validate().ok());
  r.value = "z";
  r.flags = 2;
  EXPECT_FALSE(ShardCommand::Eval(r).Validate().ok());
}

// --- The state machine: evaluation at apply time ----------------------------

class ShardEvalTest : public ::testing::Test {
 protected:
  std::unique_ptr<ShardStateMachine> OpenAt(const std::string& dir) {
    auto r = ShardStateMachine::Open(&env_, dir, 3);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  static Entry E(uint64_t index, EvalOp op, Timestamp ts) {
    ShardCommand c = ShardCommand::Eval(std::move(op));
    c.ts = ts;
    return Entry{1, index, raft::EntryType::kNormal, EncodeShardCommand(c)};
  }
  static Entry W(uint64_t index, ShardCommand c, Timestamp ts) {
    c.ts = ts;
    return Entry{1, index, raft::EntryType::kNormal, EncodeShardCommand(c)};
  }
  static EvalResult Result(ShardStateMachine* sm, uint64_t index) {
    auto r = DecodeEvalResult(sm->TakeEvalResult(index));
    EXPECT_TRUE(r.ok()) << "no result at " << index;
    return r.ok() ? *r : EvalResult{};
  }
  static std::string Read(ShardStateMachine* sm, std::string_view key, Timestamp now) {
    auto r = sm->Get(key, std::nullopt, now);
    EXPECT_TRUE(r.ok());
    return r.ok() && r->found ? r->value : "<none>";
  }

  storage::FaultInjectionEnv env_;
};

TEST_F(ShardEvalTest, EachEvalAnswersItsProposerAndSeesEarlierEntriesOfTheSameBatch) {
  auto sm = OpenAt("/a");
  ASSERT_TRUE(
      sm->Apply({W(1, ShardCommand::Put("n", "41"), AtMs(kT0Ms)),
                 E(2, IncrBy("n", 1), AtMs(kT0Ms + 1)), E(3, IncrBy("n", 1), AtMs(kT0Ms + 2)),
                 W(4, ShardCommand::Put("s", "x"), AtMs(kT0Ms + 3)),
                 E(5, Set("s", "y", kSetGet | kSetNx), AtMs(kT0Ms + 4)),
                 E(6, IncrBy("s", 1), AtMs(kT0Ms + 5))})
          .ok());
  EXPECT_EQ(Result(sm.get(), 2), R(Kind::kInteger, 42));
  EXPECT_EQ(Result(sm.get(), 3), R(Kind::kInteger, 43));
  EXPECT_EQ(Result(sm.get(), 5), R(Kind::kBulk, 0, "x"));
  EXPECT_EQ(Result(sm.get(), 6), R(Kind::kError, 0, "ERR value is not an integer or out of range"));
  EXPECT_EQ(sm->TakeEvalResult(1), "");  // plain writes answer nothing
  EXPECT_EQ(sm->TakeEvalResult(2), "");  // taken once
  EXPECT_EQ(Read(sm.get(), "n", AtMs(kT0Ms + 10)), "43");
  EXPECT_EQ(Read(sm.get(), "s", AtMs(kT0Ms + 10)), "x");
  EXPECT_EQ(sm->applied().index, 6u);
}

TEST_F(ShardEvalTest, ExpiryIsJudgedAtTheEntrysCommitTimestamp) {
  auto sm = OpenAt("/a");
  // k lives for 100 ms from kT0Ms.
  ASSERT_TRUE(sm->Apply({E(1, Set("k", "5", 0, ExpiryMode::kRelativeMs, 100), AtMs(kT0Ms))}).ok());
  EXPECT_EQ(Result(sm.get(), 1), R(Kind::kOk));
  ASSERT_TRUE(sm->Apply({E(2, Op(EvalOpType::kTtl, "k"), AtMs(kT0Ms + 40))}).ok());
  EXPECT_EQ(Result(sm.get(), 2), R(Kind::kInteger, 60));
  // Reads see it until its expiry and not from then on, at any replica's clock.
  EXPECT_EQ(Read(sm.get(), "k", AtMs(kT0Ms + 99)), "5");
  EXPECT_EQ(Read(sm.get(), "k", AtMs(kT0Ms + 100)), "<none>");
  auto at = sm->Get("k", AtMs(kT0Ms + 99, 5));
  ASSERT_TRUE(at.ok());
  EXPECT_TRUE(at->found);
  EXPECT_EQ(at->expire_at_ms, kT0Ms + 100);
  // An INCR committed at the expiry sees no key: it starts from 0, with no TTL.
  ASSERT_TRUE(sm->Apply({E(3, IncrBy("k", 1), AtMs(kT0Ms + 100)),
                         E(4, Op(EvalOpType::kTtl, "k"), AtMs(kT0Ms + 101))})
                  .ok());
  EXPECT_EQ(Result(sm.get(), 3), R(Kind::kInteger, 1));
  EXPECT_EQ(Result(sm.get(), 4), R(Kind::kInteger, -1));
  // EXPIRE in the past deletes; the key then answers -2.
  ASSERT_TRUE(sm->Apply({E(5, Expire("k", ExpiryMode::kRelativeMs, -1), AtMs(kT0Ms + 200)),
                         E(6, Op(EvalOpType::kTtl, "k"), AtMs(kT0Ms + 201))})
                  .ok());
  EXPECT_EQ(Result(sm.get(), 5), R(Kind::kInteger, 1));
  EXPECT_EQ(Result(sm.get(), 6), R(Kind::kInteger, -2));
  EXPECT_EQ(Read(sm.get(), "k", AtMs(kT0Ms + 300)), "<none>");
}

TEST_F(ShardEvalTest, TwoReplicasApplyingTheSameEntriesAgreeOnEveryAnswerAndByte) {
  // The second replica applies the same log in other batch splits, with a
  // restart in between: evaluation depends on the log only.
  std::vector<Entry> log = {
      E(1, Set("k", "1", 0, ExpiryMode::kRelativeMs, 50), AtMs(kT0Ms)),
      E(2, IncrBy("k", 10), AtMs(kT0Ms + 10)),
      E(3, Expire("k", ExpiryMode::kRelativeMs, 5, kExpireLt), AtMs(kT0Ms + 20)),
      E(4, IncrBy("k", 1), AtMs(kT0Ms + 30)),  // expired at 25: starts at 0
      W(5, ShardCommand::Put("j", "a"), AtMs(kT0Ms + 31)),
      E(6, Op(EvalOpType::kAppend, "j"), AtMs(kT0Ms + 32)),
      E(7, Op(EvalOpType::kGetDel, "k"), AtMs(kT0Ms + 20)),  // older clock: ordered after 6
      E(8, Op(EvalOpType::kTtl, "k"), AtMs(kT0Ms + 40)),
  };
  // (entry 6 appends nothing: an empty value)
  auto a = OpenAt("/a");
  ASSERT_TRUE(a->Apply(log).ok());
  std::vector<EvalResult> ra;
  for (uint64_t i = 1; i <= 8; i++) {
    if (i != 5) ra.push_back(Result(a.get(), i));
  }
  auto b = OpenAt("/b");
  std::vector<EvalResult> rb;
  for (size_t i = 0; i < log.size(); i++) {
    if (i == 4) {  // restart mid-log (a crash of the unsynced engine)
      ASSERT_TRUE(b->Sync().ok());
      b.reset();
      b = OpenAt("/b");
    }
    ASSERT_TRUE(b->Apply({log[i]}).ok());
    if (i != 4) rb.push_back(Result(b.get(), i + 1));
  }
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(ra[0], R(Kind::kOk));
  EXPECT_EQ(ra[1], R(Kind::kInteger, 11));
  EXPECT_EQ(ra[2], R(Kind::kInteger, 1));
  EXPECT_EQ(ra[3], R(Kind::kInteger, 1));
  EXPECT_EQ(ra[4], R(Kind::kInteger, 1));
  EXPECT_EQ(ra[5], R(Kind::kBulk, 0, "1"));
  EXPECT_EQ(ra[6], R(Kind::kInteger, -2));
  // Byte for byte the same engines (data and applied state).
  auto dump = [](ShardStateMachine* sm) {
    std::string out;
    auto it = sm->db()->NewIterator(storage::ReadOptions());
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.append(it->key());
      out.push_back('=');
      out.append(it->value());
      out.push_back(';');
    }
    return out;
  };
  EXPECT_EQ(dump(a.get()), dump(b.get()));
}

TEST_F(ShardEvalTest, ReplayingAnEvalAfterACrashGivesTheSameWrite) {
  auto sm = OpenAt("/a");
  ASSERT_TRUE(sm->Apply({W(1, ShardCommand::Put("n", "1"), AtMs(kT0Ms))}).ok());
  ASSERT_TRUE(sm->Sync().ok());
  // An eval after a plain write in one batch: the write goes first on its own.
  std::vector<Entry> batch = {
      W(2, ShardCommand::Put("n", "10"), AtMs(kT0Ms + 1)), E(3, IncrBy("n", 5), AtMs(kT0Ms + 2)),
      W(4, ShardCommand::Put("n", "100"), AtMs(kT0Ms + 3)), E(5, IncrBy("n", 1), AtMs(kT0Ms + 4))};
  ASSERT_TRUE(sm->Apply(batch).ok());
  EXPECT_EQ(Read(sm.get(), "n", AtMs(kT0Ms + 9)), "101");
  env_.Crash();
  sm = OpenAt("/a");
  const uint64_t applied = sm->applied().index;
  ASSERT_TRUE(sm->Apply(batch).ok());  // replays what the crash lost
  EXPECT_EQ(Read(sm.get(), "n", AtMs(kT0Ms + 9)), "101");
  auto at3 = sm->Get("n", AtMs(kT0Ms + 2));
  ASSERT_TRUE(at3.ok());
  EXPECT_EQ(at3->value, "15");
  if (applied < 5) {
    EXPECT_EQ(Result(sm.get(), 5), R(Kind::kInteger, 101));
  }
}

TEST_F(ShardEvalTest, GcDropsVersionsExpiredAtTheSafePoint) {
  auto sm = OpenAt("/a");
  ASSERT_TRUE(sm->Apply({E(1, Set("gone", "v", 0, ExpiryMode::kRelativeMs, 10), AtMs(kT0Ms)),
                         E(2, Set("stays", "v", 0, ExpiryMode::kRelativeMs, 100000), AtMs(kT0Ms)),
                         W(3, ShardCommand::Put("plain", "p"), AtMs(kT0Ms + 1))})
                  .ok());
  auto dropped = sm->GarbageCollect(AtMs(kT0Ms + 50));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1u);
  EXPECT_EQ(Read(sm.get(), "gone", AtMs(kT0Ms + 60)), "<none>");
  EXPECT_TRUE(sm->Get("gone", AtMs(kT0Ms + 5)).status().IsInvalidArgument());  // history gone
  EXPECT_EQ(Read(sm.get(), "stays", AtMs(kT0Ms + 60)), "v");
  EXPECT_EQ(Read(sm.get(), "plain", AtMs(kT0Ms + 60)), "p");
}

TEST_F(ShardEvalTest, RenameAndMSetNxWriteEveryKeyAtTheEntrysTimestamp) {
  auto sm = OpenAt("/a");
  EvalOp ren = Op(EvalOpType::kRename, "src");
  ren.value = "dst";
  EvalOp m = Op(EvalOpType::kMSetNx, "x");
  m.value = EncodeKeyValuePairs({{"x", "1"}, {"y", "2"}});
  ASSERT_TRUE(
      sm->Apply({E(1, Set("src", "v", 0, ExpiryMode::kRelativeMs, 1000), AtMs(kT0Ms)),
                 E(2, ren, AtMs(kT0Ms + 1)), E(3, m, AtMs(kT0Ms + 2)), E(4, m, AtMs(kT0Ms + 3)),
                 E(5, Op(EvalOpType::kTtl, "dst"), AtMs(kT0Ms + 4))})
          .ok());
  EXPECT_EQ(Result(sm.get(), 2), R(Kind::kOk));
  EXPECT_EQ(Result(sm.get(), 3), R(Kind::kInteger, 1));
  EXPECT_EQ(Result(sm.get(), 4), R(Kind::kInteger, 0));
  EXPECT_EQ(Result(sm.get(), 5), R(Kind::kInteger, 996));
  EXPECT_EQ(Read(sm.get(), "src", AtMs(kT0Ms + 5)), "<none>");
  EXPECT_EQ(Read(sm.get(), "dst", AtMs(kT0Ms + 5)), "v");
  EXPECT_EQ(Read(sm.get(), "x", AtMs(kT0Ms + 5)), "1");
  EXPECT_EQ(Read(sm.get(), "y", AtMs(kT0Ms + 5)), "2");
  EXPECT_EQ(Read(sm.get(), "dst", AtMs(kT0Ms + 1000)), "<none>");  // expired with its TTL
}

TEST_F(ShardEvalTest, ScanKeysListsLiveKeysInOrderInPagesAndSkipsDeletedAndExpired) {
  auto sm = OpenAt("/a");
  const std::string nul("b\0x", 3);
  ASSERT_TRUE(sm->Apply({W(1, ShardCommand::Put("a", "1"), AtMs(kT0Ms)),
                         W(2, ShardCommand::Put("a", "2"), AtMs(kT0Ms + 1)),  // two versions
                         W(3, ShardCommand::Put("b", "1"), AtMs(kT0Ms + 2)),
                         W(4, ShardCommand::Delete("b"), AtMs(kT0Ms + 3)),
                         W(5, ShardCommand::Put(nul, "1"), AtMs(kT0Ms + 4)),
                         E(6, Set("c", "v", 0, ExpiryMode::kRelativeMs, 10), AtMs(kT0Ms + 5)),
                         W(7, ShardCommand::Put("d", "1"), AtMs(kT0Ms + 6))})
                  .ok());
  std::vector<std::string> keys;
  std::string next;
  // At kT0Ms + 100 the key c has expired; b is deleted.
  ASSERT_TRUE(sm->ScanKeys("", 100, AtMs(kT0Ms + 100), &keys, &next).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", nul, "d"}));
  EXPECT_EQ(next, "");
  // Before c's expiry it is listed.
  ASSERT_TRUE(sm->ScanKeys("", 100, AtMs(kT0Ms + 7), &keys, &next).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a", nul, "c", "d"}));
  // Pages of two: continue strictly after the cursor key.
  std::vector<std::string> all;
  std::string after;
  int pages = 0;
  do {
    ASSERT_TRUE(sm->ScanKeys(after, 2, AtMs(kT0Ms + 7), &keys, &next).ok());
    all.insert(all.end(), keys.begin(), keys.end());
    after = next;
    pages++;
  } while (!next.empty() && pages < 10);
  EXPECT_EQ(all, (std::vector<std::string>{"a", nul, "c", "d"}));
  // A cursor at a key that is gone, or between keys, still resumes after it.
  ASSERT_TRUE(sm->ScanKeys("b", 100, AtMs(kT0Ms + 7), &keys, &next).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{nul, "c", "d"}));
  ASSERT_TRUE(sm->ScanKeys("bz", 100, AtMs(kT0Ms + 7), &keys, &next).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"c", "d"}));
}

}  // namespace
}  // namespace dkv::node
