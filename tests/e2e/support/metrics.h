// Reading one sample from the server's Prometheus /metrics text, for end-to-end tests.
#pragma once

#include <string>

namespace quanqu::e2e {

// The value of the sample with exactly this name and label set (`series`, e.g.
// quanqu_http_connections_refused_total{reason="per_client"}), or -1 when the text has none.
inline double metric_sample(const std::string& text, const std::string& series) {
  for (std::size_t pos = 0; (pos = text.find(series + " ", pos)) != std::string::npos; pos += series.size())
    if (pos == 0 || text[pos - 1] == '\n') {
      auto end = text.find('\n', pos);
      return std::stod(text.substr(pos + series.size() + 1, end - pos - series.size() - 1));
    }
  return -1;
}

}  // namespace quanqu::e2e
