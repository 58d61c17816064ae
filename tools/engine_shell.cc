// distkv-shell: an interactive shell over DistKV's storage engine.
//
// Opens (creating if needed) an engine directory and reads commands from
// stdin, one per line: put, get, del, scan, count, snapshot/at, flush,
// compact, checkpoint, stats, help, quit. Meant for trying the engine by hand
// and as the quick start's demo until the server exists; every command goes
// through the public DB API, nothing else.
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "storage/db.h"

namespace {

using dkv::Status;
using dkv::storage::DB;

constexpr const char* kHelp = R"(commands:
  put KEY VALUE        write a key (synced to the WAL before OK)
  get KEY              read a key
  del KEY              delete a key
  scan [FROM] [LIMIT]  list keys >= FROM in order (default 20)
  rscan [LIMIT]        list the last keys in reverse order
  count                count every key
  snapshot             take a snapshot; prints its id
  at ID get KEY        read a key as of snapshot ID
  fill N               write N keys key000000.. with 100-byte values (one batch per 1000)
  flush                flush the memtable to an SSTable
  compact              compact everything to the bottom level
  checkpoint DIR       write an openable copy of the database to DIR
  stats                engine statistics
  help                 this text
  quit                 close the database (syncs) and exit
)";

std::vector<std::string> Split(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

void Report(const Status& s) {
  if (s.ok()) {
    std::cout << "OK\n";
  } else {
    std::cout << "(error) " << s.ToString() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"distkv-shell: try DistKV's storage engine by hand"};
  std::string dir = "/tmp/distkv-shell";
  bool sync = true;
  app.add_option("dir", dir, "engine directory (created if missing)");
  app.add_flag("!--no-sync", sync, "do not fsync each write");
  CLI11_PARSE(app, argc, argv);

  dkv::storage::Options options;
  options.create_if_missing = true;
  auto opened = DB::Open(options, dir);
  if (!opened.ok()) {
    std::cerr << "distkv-shell: cannot open " << dir << ": " << opened.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<DB> db = std::move(opened).value();
  dkv::storage::WriteOptions wo;
  wo.sync = sync;
  std::map<int, const dkv::storage::Snapshot*> snapshots;
  int next_snapshot = 1;

  std::cout << "distkv-shell: engine at " << dir << " (type 'help')\n";
  std::string line;
  while (true) {
    std::cout << "dkv> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    auto w = Split(line);
    if (w.empty()) continue;
    std::string cmd = w[0];
    dkv::storage::ReadOptions ro;
    if (cmd == "at" && w.size() == 4 && w[2] == "get") {
      auto it = snapshots.find(std::atoi(w[1].c_str()));
      if (it == snapshots.end()) {
        std::cout << "(error) no snapshot " << w[1] << "\n";
        continue;
      }
      ro.snapshot = it->second;
      w = {"get", w[3]};
      cmd = "get";
    }
    if (cmd == "quit" || cmd == "exit") break;
    if (cmd == "help") {
      std::cout << kHelp;
    } else if (cmd == "put" && w.size() == 3) {
      Report(db->Put(wo, w[1], w[2]));
    } else if (cmd == "get" && w.size() == 2) {
      std::string value;
      Status s = db->Get(ro, w[1], &value);
      if (s.ok()) {
        std::cout << '"' << value << "\"\n";
      } else if (s.IsNotFound()) {
        std::cout << "(nil)\n";
      } else {
        Report(s);
      }
    } else if (cmd == "del" && w.size() == 2) {
      Report(db->Delete(wo, w[1]));
    } else if (cmd == "scan" && w.size() <= 3) {
      auto it = db->NewIterator(ro);
      long limit = w.size() == 3 ? std::atol(w[2].c_str()) : 20;
      if (w.size() >= 2) {
        it->Seek(w[1]);
      } else {
        it->SeekToFirst();
      }
      for (long n = 0; it->Valid() && n < limit; it->Next(), n++) {
        std::cout << it->key() << " = " << it->value().substr(0, 60) << "\n";
      }
      if (!it->status().ok()) Report(it->status());
    } else if (cmd == "rscan" && w.size() <= 2) {
      auto it = db->NewIterator(ro);
      long limit = w.size() == 2 ? std::atol(w[1].c_str()) : 20;
      it->SeekToLast();
      for (long n = 0; it->Valid() && n < limit; it->Prev(), n++) {
        std::cout << it->key() << " = " << it->value().substr(0, 60) << "\n";
      }
      if (!it->status().ok()) Report(it->status());
    } else if (cmd == "count" && w.size() == 1) {
      auto it = db->NewIterator(ro);
      long n = 0;
      for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
      if (!it->status().ok()) Report(it->status());
      std::cout << n << "\n";
    } else if (cmd == "snapshot" && w.size() == 1) {
      snapshots[next_snapshot] = db->GetSnapshot();
      std::cout << "snapshot " << next_snapshot++ << "\n";
    } else if (cmd == "fill" && w.size() == 2) {
      long n = std::atol(w[1].c_str());
      dkv::storage::WriteBatch batch;
      Status s;
      char key[32];
      for (long i = 0; i < n && s.ok(); i++) {
        std::snprintf(key, sizeof(key), "key%06ld", i);
        batch.Put(key, std::string(100, static_cast<char>('a' + i % 26)));
        if (batch.Count() == 1000 || i + 1 == n) {
          s = db->Write(wo, batch);
          batch.Clear();
        }
      }
      Report(s);
    } else if (cmd == "flush" && w.size() == 1) {
      Report(db->Flush());
    } else if (cmd == "compact" && w.size() == 1) {
      Report(db->CompactRange(nullptr, nullptr));
    } else if (cmd == "checkpoint" && w.size() == 2) {
      Report(db->CreateCheckpoint(w[1]));
    } else if (cmd == "stats" && w.size() == 1) {
      std::string stats;
      if (db->GetProperty("dkv.stats", &stats)) std::cout << stats << "\n";
    } else {
      std::cout << "(error) unknown command or wrong arguments: '" << line << "' (try 'help')\n";
    }
  }
  for (auto& [id, snap] : snapshots) db->ReleaseSnapshot(snap);
  db.reset();
  std::cout << "bye\n";
  return 0;
}
