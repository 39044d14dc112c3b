/* test_logic_frames.c — the client frames group chat adds: mentions with @all written as
 * "all" (im_wire_message), and `notify`. */
#include "im/wire.h"
#include "im_test.h"
#include "logic.h"

int main(void)
{
    Im__Common__V1__Message m = IM__COMMON__V1__MESSAGE__INIT;
    uint64_t mentions[] = {IM_WIRE_MENTION_ALL, 5};
    m.msg_id = 123;
    m.conversation_id = "g_9";
    m.seq = 4;
    m.sender_id = 1;
    m.type = 1;
    m.content = "hi";
    m.mentions = mentions;
    m.n_mentions = 2;
    m.cmid = "c1";
    char *f = logic_frame_message(&m);
    CHECK(strstr(f, "\"mentions\":[\"all\",5]") != NULL);
    CHECK(strstr(f, "\"conversation_id\":\"g_9\"") != NULL);
    im_free(f);
    f = logic_frame_notify("g_9", 17);
    CHECK_STR(f, "{\"op\":\"notify\",\"conversation_id\":\"g_9\",\"max_seq\":17}");
    im_free(f);
    IM_TEST_DONE();
}
