// The connection table (see connection_table.h).
#include "net/http/connection_table.h"

#include <sys/socket.h>

namespace sdw::net {

ConnectionTable::Admission ConnectionTable::admit(int fd, const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  Admission verdict = Admission::admitted;
  if (stopping_)
    verdict = Admission::stopping;
  else if (static_cast<int>(open_.size()) >= limits_.max_connections)
    verdict = Admission::server_full;
  else if (per_address_[address] >= limits_.max_connections_per_client)
    verdict = Admission::client_full;
  if (verdict != Admission::admitted) {
    if (per_address_[address] == 0) per_address_.erase(address);
    ++refused_;
    return verdict;
  }
  ++per_address_[address];
  open_[fd] = Entry{address, Phase::waiting};
  return verdict;
}

void ConnectionTable::release(int fd) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = open_.find(fd);
  if (it == open_.end()) return;
  const auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second <= 0) per_address_.erase(count);
  open_.erase(it);
}

void ConnectionTable::set_phase(int fd, Phase phase) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = open_.find(fd);
  if (it != open_.end()) it->second.phase = phase;
}

void ConnectionTable::refuse_new() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
}

void ConnectionTable::close_all() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  for (const auto& [fd, entry] : open_) ::shutdown(fd, SHUT_RDWR);
}

int64_t ConnectionTable::open() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(open_.size());
}

int64_t ConnectionTable::refused() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return refused_;
}

}  // namespace sdw::net
