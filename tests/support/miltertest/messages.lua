-- miltertest script: the milter over one connection, as Postfix drives it.
-- Variables from the command line: socket (unix:/path), tenant, domain.
-- A message aborted halfway, then a message signed and routed, then a refused one.

local conn = mt.connect(socket, 40, 0.25)
if conn == nil then error("cannot connect to the milter at " .. socket) end
local failure = mt.negotiate(conn, nil, nil, nil)
if failure ~= nil then error("negotiation: " .. failure) end

local function message(subject, sender_tenant)
    mt.macro(conn, SMFIC_MAIL, "{auth_authen}", sender_tenant, "i", "QID" .. subject)
    if mt.mailfrom(conn, "app@" .. domain) ~= nil then error("mailfrom") end
    if mt.rcptto(conn, "someone@example.org") ~= nil then error("rcptto") end
    if mt.header(conn, "From", "app@" .. domain) ~= nil then error("header From") end
    if mt.header(conn, "Subject", subject) ~= nil then error("header Subject") end
    if mt.header(conn, "Date", "Sun, 22 Nov 2026 12:00:00 +0000") ~= nil then error("header Date") end
end

-- 1: aborted in the middle of its body
message("aborted", tenant)
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "the first half of a body\r\n") ~= nil then error("body") end
if mt.abort(conn) ~= nil then error("abort") end

-- 2: a whole message on the same connection
message("whole", tenant)
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "hello\r\n") ~= nil then error("body") end
if mt.eom(conn) ~= nil then error("eom") end
if mt.getreply(conn) ~= SMFIR_CONTINUE then error("the whole message was not accepted") end
if not mt.eom_check(conn, MT_HDRINSERT, "DKIM-Signature") then error("no DKIM-Signature inserted") end
if not mt.eom_check(conn, MT_HDRADD, "X-Mailrelay-Route", "out_default") then error("no route header") end
local signature = mt.getheader(conn, "DKIM-Signature", 0)
if signature == nil or not string.find(signature, "d=" .. domain, 1, true) then
    error("signature not for " .. domain .. ": " .. tostring(signature))
end
if string.find(signature, "aborted", 1, true) then error("the aborted message leaked") end

-- 3: a tenant the relay does not know
message("stranger", "nobody")
if mt.eoh(conn) ~= nil then error("eoh") end
if mt.bodystring(conn, "hello\r\n") ~= nil then error("body") end
if mt.eom(conn) ~= nil then error("eom") end
-- (this miltertest cannot read a reply code back: eom_check MT_SMTPREPLY fails silently)
if mt.getreply(conn) ~= SMFIR_REPLYCODE then error("unknown tenant not refused") end

mt.disconnect(conn)
mt.echo("ok")
