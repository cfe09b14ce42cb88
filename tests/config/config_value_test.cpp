// Parsing and formatting of configuration values per type
// (include/torcon/config_value.hpp): one line per case.

#include "torcon/config_value.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace torcon {
namespace {

using namespace std::chrono_literals;

TEST(ConfigType, EveryNameTorListsRoundTrips) {
  for (const char* name :
       {"Boolean", "Boolean+Auto", "Integer", "SignedInteger", "Port", "TimeInterval",
        "TimeMsecInterval", "DataSize", "Float", "Time", "CommaList", "TimeIntervalCommaList",
        "RouterList", "String", "Filename", "LineList", "Dependent", "Virtual"}) {
    const ConfigType t = config_type_from_name(name);
    EXPECT_NE(t, ConfigType::other) << name;
    EXPECT_EQ(to_string(t), name);
  }
  EXPECT_EQ(config_type_from_name("Quux"), ConfigType::other);
  EXPECT_EQ(config_type_from_name("boolean"), ConfigType::other);  // tor's spelling only
  EXPECT_EQ(config_type_from_name("other"), ConfigType::other);
  EXPECT_TRUE(is_multi_line(ConfigType::line_list));
  EXPECT_FALSE(is_multi_line(ConfigType::comma_list));
}

TEST(ConfigValueParse, Booleans) {
  struct Case {
    const char* text;
    std::optional<bool> want;
  };
  for (const Case& c : std::vector<Case>{{"1", true},
                                         {"0", false},
                                         {"", {}},
                                         {"2", {}},
                                         {"true", {}},
                                         {" 1", {}},
                                         {"auto", {}}}) {
    Expected<bool> v = parse_config_bool(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want)
      EXPECT_EQ(*v, *c.want) << c.text;
    else
      EXPECT_EQ(v.error().code, Errc::bad_argument);
  }
}

TEST(ConfigValueParse, AutoBooleans) {
  struct Case {
    const char* text;
    std::optional<AutoBool> want;
  };
  for (const Case& c : std::vector<Case>{{"1", AutoBool::on},
                                         {"0", AutoBool::off},
                                         {"auto", AutoBool::automatic},
                                         {"AUTO", AutoBool::automatic},
                                         {"yes", {}},
                                         {"", {}}}) {
    Expected<AutoBool> v = parse_config_auto_bool(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, Integers) {
  struct Case {
    const char* text;
    std::optional<std::int64_t> want;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"42", 42},
                                         {"-7", -7},
                                         {"+7", 7},
                                         {"9223372036854775807", INT64_MAX},
                                         {"-9223372036854775808", INT64_MIN},
                                         {"9223372036854775808", {}},
                                         {"", {}},
                                         {"4x", {}},
                                         {" 4", {}},
                                         {"0x10", {}}}) {
    Expected<std::int64_t> v = parse_config_integer(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, UnsignedIntegers) {
  struct Case {
    const char* text;
    std::optional<std::uint64_t> want;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"18446744073709551615", UINT64_MAX},  // tor's "unset"
                                         {"18446744073709551616", {}},
                                         {"-1", {}},
                                         {"+1", {}},
                                         {"", {}}}) {
    Expected<std::uint64_t> v = parse_config_unsigned(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, Intervals) {
  struct Case {
    const char* text;
    std::optional<std::chrono::seconds> want;
  };
  for (const Case& c : std::vector<Case>{{"3600", 3600s},
                                         {"0", 0s},
                                         {"30 seconds", 30s},
                                         {"1 second", 1s},
                                         {"2 minutes", 120s},
                                         {"5 min", 300s},
                                         {"1 hour", 3600s},
                                         {"2 HOURS", 7200s},
                                         {"1 day", 86400s},
                                         {"2 weeks", 1209600s},
                                         {"10sec", 10s},
                                         {"5 fortnights", {}},
                                         {"-5", {}},
                                         {"", {}},
                                         {"minutes", {}}}) {
    Expected<std::chrono::seconds> v = parse_config_interval(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, MsecIntervals) {
  struct Case {
    const char* text;
    std::optional<std::chrono::milliseconds> want;
  };
  for (const Case& c : std::vector<Case>{{"5", 5ms},
                                         {"10 msec", 10ms},
                                         {"10 ms", 10ms},
                                         {"3 milliseconds", 3ms},
                                         {"2 seconds", 2000ms},
                                         {"1 minute", 60000ms},
                                         {"1 fortnight", {}},
                                         {"x", {}}}) {
    Expected<std::chrono::milliseconds> v = parse_config_msec_interval(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, DataSizes) {
  struct Case {
    const char* text;
    std::optional<std::uint64_t> want;
  };
  for (const Case& c : std::vector<Case>{{"1073741824", 1073741824ull},
                                         {"0", 0},
                                         {"100 bytes", 100},
                                         {"1 KB", 1024},
                                         {"2 kbytes", 2048},
                                         {"2 MB", 2097152},
                                         {"1 GB", 1073741824ull},
                                         {"1 TB", 1099511627776ull},
                                         {"8 kbits", 1024},
                                         {"1 mbit", 131072},
                                         {"3 megabytes", 3145728},
                                         {"18446744073709551615", UINT64_MAX},
                                         {"18446744073709551615 KB", {}},  // overflows
                                         {"1 XB", {}},
                                         {"KB", {}}}) {
    Expected<std::uint64_t> v = parse_config_size(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, Floats) {
  struct Case {
    const char* text;
    std::optional<double> want;
  };
  for (const Case& c : std::vector<Case>{{"-1.000000", -1.0},
                                         {"0.950000", 0.95},
                                         {"3", 3.0},
                                         {"1e3", 1000.0},
                                         {"", {}},
                                         {"1.5x", {}},
                                         {"abc", {}}}) {
    Expected<double> v = parse_config_float(c.text);
    ASSERT_EQ(v.ok(), c.want.has_value()) << c.text;
    if (c.want) {
      EXPECT_DOUBLE_EQ(*v, *c.want) << c.text;
    }
  }
}

TEST(ConfigValueParse, Lists) {
  struct Case {
    const char* text;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{{"21,22,706", {"21", "22", "706"}},
                                         {"", {}},
                                         {"{us}, {de} ,$AAAA", {"{us}", "{de}", "$AAAA"}},
                                         {"a,,b,", {"a", "b"}},
                                         {"single", {"single"}}}) {
    EXPECT_EQ(split_config_list(c.text), c.want) << c.text;
  }
}

// Every formatted value parses back to what was formatted, and the text is
// the one tor reads with the same meaning.
TEST(ConfigValueFormat, RoundTrips) {
  EXPECT_EQ(format_config_bool(true), "1");
  EXPECT_EQ(format_config_bool(false), "0");
  for (AutoBool b : {AutoBool::off, AutoBool::on, AutoBool::automatic})
    EXPECT_EQ(*parse_config_auto_bool(format_config_auto_bool(b)), b);
  EXPECT_EQ(format_config_auto_bool(AutoBool::automatic), "auto");
  for (std::int64_t i : {std::int64_t(0), std::int64_t(-5), INT64_MAX, INT64_MIN})
    EXPECT_EQ(*parse_config_integer(format_config_integer(i)), i);
  EXPECT_EQ(format_config_interval(90s), "90 seconds");
  EXPECT_EQ(*parse_config_interval(format_config_interval(90s)), 90s);
  EXPECT_EQ(format_config_msec_interval(15ms), "15 msec");
  EXPECT_EQ(*parse_config_msec_interval(format_config_msec_interval(15ms)), 15ms);
  EXPECT_EQ(format_config_size(5242880), "5242880 bytes");
  EXPECT_EQ(*parse_config_size(format_config_size(UINT64_MAX)), UINT64_MAX);
  for (double d : {0.0, 0.1, -1.0, 1e-9, 12345.678, 0.95}) {
    Expected<std::string> t = format_config_float(d);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(*parse_config_float(*t), d) << *t;  // exact: shortest round-trip form
  }
  EXPECT_FALSE(format_config_float(std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(format_config_float(std::nan("")).ok());
}

TEST(ConfigValueFormat, Lists) {
  struct Case {
    std::vector<std::string> items;
    std::optional<std::string> want;
  };
  for (const Case& c : std::vector<Case>{{{"80", "443"}, "80,443"},
                                         {{}, ""},
                                         {{"{us}"}, "{us}"},
                                         {{"a,b"}, {}},  // would read back as two items
                                         {{""}, {}},
                                         {{" a"}, {}}}) {
    Expected<std::string> v = format_config_list(c.items);
    ASSERT_EQ(v.ok(), c.want.has_value()) << (c.items.empty() ? "" : c.items[0]);
    if (c.want) {
      EXPECT_EQ(*v, *c.want);
    }
  }
}

TEST(ConfigValue, TypedAccessors) {
  EXPECT_EQ(*ConfigValue(ConfigType::boolean, {"1"}).boolean(), true);
  EXPECT_EQ(*ConfigValue(ConfigType::boolean_auto, {"auto"}).auto_bool(), AutoBool::automatic);
  EXPECT_EQ(*ConfigValue(ConfigType::integer, {"8"}).integer(), 8);
  EXPECT_EQ(*ConfigValue(ConfigType::integer, {"18446744073709551615"}).unsigned_integer(),
            UINT64_MAX);
  EXPECT_FALSE(ConfigValue(ConfigType::integer, {"18446744073709551615"}).integer().ok());
  EXPECT_EQ(*ConfigValue(ConfigType::time_interval, {"120"}).seconds(), 120s);
  EXPECT_EQ(*ConfigValue(ConfigType::time_interval, {"120"}).milliseconds(), 120000ms);
  EXPECT_EQ(*ConfigValue(ConfigType::time_msec_interval, {"1500"}).milliseconds(), 1500ms);
  EXPECT_EQ(*ConfigValue(ConfigType::time_msec_interval, {"1500"}).seconds(), 1s);
  EXPECT_EQ(*ConfigValue(ConfigType::data_size, {"2097152"}).bytes(), 2097152u);
  EXPECT_DOUBLE_EQ(*ConfigValue(ConfigType::floating, {"0.5"}).number(), 0.5);
  EXPECT_EQ(ConfigValue(ConfigType::comma_list, {"a,b"}).items(),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ConfigValue(ConfigType::line_list, {"a,b", "c"}).items(),
            (std::vector<std::string>{"a,b", "c"}));
  // Unset: no lines, typed accessors fail, text is "".
  ConfigValue unset(ConfigType::string, {});
  EXPECT_FALSE(unset.is_set());
  EXPECT_EQ(unset.text(), "");
  EXPECT_FALSE(ConfigValue(ConfigType::boolean, {}).boolean().ok());
  EXPECT_FALSE(ConfigValue(ConfigType::integer, {"x"}).integer().ok());
  EXPECT_TRUE(unset.items().empty());
}

}  // namespace
}  // namespace torcon
