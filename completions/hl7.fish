# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_hl7_global_optspecs
    string join \n q/quiet progress stats h/help V/version
end

function __fish_hl7_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_hl7_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_hl7_using_subcommand
    set -l cmd (__fish_hl7_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c hl7 -n "__fish_hl7_needs_command" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_needs_command" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_needs_command" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_needs_command" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "listen" -d 'Receive HL7 over MLLP, ACK each message, write them to stdout'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "send" -d 'Send HL7 messages over MLLP and check each ACK'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "simulate" -d 'Generate realistic, seeded HL7 traffic'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "parse" -d 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "ack" -d 'Build one ACK (or NAK) for each input message'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "convert" -d 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "flatten" -d 'Turn OBX observations into flat rows (NDJSON or CSV)'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "ilp" -d 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "completions" -d 'Print a shell completion script (or write all of them with --dir)'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "man" -d 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1'
complete -c hl7 -n "__fish_hl7_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l to -d 'Output: hl7 (segments joined by \\r, a \\n after each message), ndjson, or mllp (framed)' -r -f -a "hl7\t''
ndjson\t''
mllp\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l ack-after -d 'When to send AA: once written (and fsynced where it is a file or the archive), or once `hl7 ilp` at the end of the pipeline reports the message\'s rows committed' -r -f -a "written\t'AA once written and flushed to stdout (fsynced if a file) and to the archive'
delivered\t'AA once `hl7 ilp` reports the message\'s rows committed by the database'"
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l receipts -d 'With --ack-after delivered: the loopback address where `hl7 ilp` sends receipts (the marks name it, so ilp needs no flag) [default: 127.0.0.1:0, a free port]' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l channel -d 'Name a channel: NAME=ADDR' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l archive -d 'Append each message durably (fsync) to files under DIR before it is ACKed' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l archive-layout -d 'Archive file layout: strftime and field paths' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l ack-mode -d 'ACK mode: auto honours MSH-15/MSH-16; original (AA/AE/AR); enhanced (CA/CE/CR); none' -r -f -a "auto\t''
original\t''
enhanced\t''
none\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l app -d 'MSH-3 of the ACKs sent' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l facility -d 'MSH-4 of the ACKs sent' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l max-message-size -d 'Frames larger than this get a NAK and are discarded' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l idle-timeout -d 'Close connections idle this long (seconds)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l max-connections -d 'Most connections served at once' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l allow -d 'Accept connections only from these networks' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l count -d 'Exit 0 after N messages have been received, written and ACKed' -r
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l tls-cert -d 'MLLP over TLS: certificate chain (PEM)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l tls-key -d 'MLLP over TLS: private key (PEM)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l tls-client-ca -d 'Mutual TLS: accept only clients with a certificate signed by this CA (PEM)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l meta -d 'With --to ndjson: add received time, peer, channel, control id and ACK code, and the raw message'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand listen" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l to -d 'Results: ndjson ({"n","control_id","ack","latency_ms","error"}), hl7 (the ACKs), none' -r -f -a "ndjson\t''
hl7\t''
none\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l timeout -d 'Seconds to wait for each ACK (and for each connection to open)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l retries -d 'Retries per message, with backoff (0.5 s, doubling, at most 30 s)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l rate -d 'Pace sending: N messages per second (N/s; also N/min, N/h)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l speed -d 'With --replay: play faster (2) or slower (0.5)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l count -d 'Stop after N messages (with --loop: N in all)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l connections -d 'Parallel connections (messages dealt round-robin; order is kept per connection)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l window -d 'Messages in flight per connection (1-4096): write up to N ahead while their ACKs are outstanding, each ACK matched to its message by MSA-2 whatever order they come in. Results stay in input order. 1 (the default) waits for each ACK before the next message' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l ca -d 'With --tls: the CA certificates to trust (PEM), instead of the system\'s store' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l cert -d 'With --tls: client certificate chain (PEM), for mutual TLS' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l key -d 'With --tls: the client certificate\'s private key (PEM)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l tls-server-name -d 'With --tls: the name the server\'s certificate must bear (default: the host of ADDR)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l from -d 'Input format, instead of detecting it' -r -f -a "hl7\t'Raw HL7: segments ended by \\r, \\n or \\r\\n; several messages; FHS/BHS batches'
mllp\t'MLLP-framed capture: 0x0B message 0x1C 0x0D'
ndjson\t'One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`'"
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l pass -d 'Write each accepted message to stdout instead of a result, so send can sit mid-pipeline like tee'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l retry-rejected -d 'Retry AR/CR rejections too (AE/CE are never retried: the data must be fixed)'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l replay -d 'Pace by the original gaps (listen --meta received times, else MSH-7)'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l loop -d 'Repeat the input (needs --rate, --replay or --count)'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l connection-per-message -d 'Open a fresh connection for each message and close it after the ACK'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l no-ack -d 'Fire and forget: do not wait for ACKs'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l strict -d 'Stop at the first invalid input message (exit 1)'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l tls -d 'MLLP over TLS'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand send" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l profile -d 'Traffic profile' -r -f -a "vent\t''
monitor\t''
lab\t''
adt\t''
orm\t''
pacs\t''
mdm\t''
cycle\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l count -d 'Number of messages (default 100, or unlimited with --rate)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l rate -d 'Pace the output: messages per second (20/s, 0.5/s), per minute (30/min) or per hour (2/h)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l seed -d 'Random seed: the same seed (and --start) gives the same bytes; default: a fresh one, shown with --stats' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l devices -d 'Number of devices, each with its own identity and trend (vent, monitor)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l patients -d 'Size of the patient population' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l start -d 'Clock of the first message: RFC 3339 (2024-08-14T11:46:36+02:00) or HL7 (20240814114636)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l attachment-size -d 'With --profile mdm: pad each PDF attachment to this size (bytes, or with kB, KiB, MB, MiB)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l version -d 'HL7 version to write in MSH-12 (default: the profile\'s own)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l to -d 'Output: hl7 (segments ended by \\r, a \\n after each message), mllp (framed), ndjson' -r -f -a "hl7\t''
mllp\t''
ndjson\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l from-file -d 'With --profile cycle: the messages to cycle through (HL7, MLLP capture or NDJSON)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand simulate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l to -d 'Output format: ndjson (lossless JSON, one message a line), csv, table (for humans), hl7' -r -f -a "ndjson\t''
csv\t''
table\t''
hl7\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l shape -d 'NDJSON shape: segments (lossless, ordered) or paths (one flat object of path: value)' -r -f -a "segments\t''
paths\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l select -d 'Only these values, e.g. MSH-10,PID-3.1; one row per message, or per OBX when a path names OBX' -r
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l from -d 'Input format, instead of detecting it from the first bytes' -r -f -a "hl7\t'Raw HL7: segments ended by \\r, \\n or \\r\\n; several messages; FHS/BHS batches'
mllp\t'MLLP-framed capture: 0x0B message 0x1C 0x0D'
ndjson\t'One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`'"
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l dot-style -d 'How to read a dot path with three numbers such as PID.1.5.1 (refused by default)' -r -f -a "refuse\t'Refuse PID.1.5.1 and show both readings'
field\t'PID.1.5.1 is field 1, component 5, subcomponent 1'
occurrence\t'PID.1.5.1 is the first PID, field 5, component 1'
repetition\t'PID.1.5.1 is field 1, repetition 5, component 1 (python-hl7)'"
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l strict -d 'Stop at the first invalid message (exit 1)'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand parse" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l code -d 'Acknowledgment code' -r -f -a "AA\t''
AE\t''
AR\t''
CA\t''
CE\t''
CR\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l text -d 'Text for MSA-3 / ERR' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l error-code -d 'Error code for ERR (HL7 table 0357, e.g. 207)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l mode -d 'original (AA/AE/AR) or enhanced (CA/CE/CR)' -r -f -a "original\t''
enhanced\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l app -d 'MSH-3 of the ACKs' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l facility -d 'MSH-4 of the ACKs' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l to -d 'Output format' -r -f -a "hl7\t''
mllp\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l from -d 'Input format, instead of detecting it' -r -f -a "hl7\t'Raw HL7: segments ended by \\r, \\n or \\r\\n; several messages; FHS/BHS batches'
mllp\t'MLLP-framed capture: 0x0B message 0x1C 0x0D'
ndjson\t'One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`'"
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand ack" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l template -d 'Template file (.hl7: HL7 output, .json: JSON output, other: text)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l to -d 'Without a template: hl7 (NDJSON back to HL7) or ndjson (as hl7 parse)' -r -f -a "hl7\t''
ndjson\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l output -d 'Write each rendering to its own file: strftime (%Y %m %d %H %M %S) and field paths, e.g. \'patients/patient_{PID-3.1}.json\'' -r
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l escape -d 'How inserted values are escaped (default from the template\'s extension: .hl7 hl7, .json json, other none)' -r -f -a "hl7\t''
json\t''
none\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l from -d 'Input format, instead of detecting it' -r -f -a "hl7\t'Raw HL7: segments ended by \\r, \\n or \\r\\n; several messages; FHS/BHS batches'
mllp\t'MLLP-framed capture: 0x0B message 0x1C 0x0D'
ndjson\t'One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`'"
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l append -d 'With --output: append to the files (one record a line), instead of replacing them'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l strict -d 'A missing value is an error (message number, path), and a rendering with a missing value or a failed filter is not written; the other messages are still converted (exit code 1)'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l legacy-placeholders -d 'Also accept the {S-F} index placeholders of the old broker script: segment S (0-based), field F of the segment split by \'|\' (so {0-9} is MSH-10)'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand convert" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l map -d 'The TOML map of variables, bitfields, tags and the table name' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l to -d 'Output format: ndjson (typed JSON, one row a line) or csv (with a header line)' -r -f -a "ndjson\t''
csv\t''"
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l tz -d 'Time zone of HL7 times without an offset (IANA name such as Europe/Oslo; overrides the map\'s timezone; default UTC)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l from -d 'Input format, instead of detecting it' -r -f -a "hl7\t'Raw HL7: segments ended by \\r, \\n or \\r\\n; several messages; FHS/BHS batches'
mllp\t'MLLP-framed capture: 0x0B message 0x1C 0x0D'
ndjson\t'One JSON document a line, as written by `hl7 parse` or `hl7 listen --meta`'"
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l wide -d 'One row per message, one column per variable (the shape that suits QuestDB)'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l long -d 'One row per observation (the default)'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l check -d 'Check the map (and --tz), print its columns with their types and exit'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l strict -d 'Stop at the first invalid message or misfit value (exit 1)'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand flatten" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l input -d 'Input file (repeat for several); stdin when none or -' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l map -d 'The flatten map the rows were made with: table, symbols, timestamp, column types and deduplication keys (flags override it)' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l table -d 'Table name [default: observations]' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l symbols -d 'Columns written as symbols (tags)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l timestamp -d 'The designated timestamp column: RFC 3339 text or epoch nanoseconds [default: ts]' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l batch-rows -d 'Flush after this many rows (a busy input, always ready, goes out in batches this big; whatever waits is also flushed as soon as the input pauses)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l batch-ms -d 'Flush rows that have waited this many milliseconds, also while the input keeps coming (whatever waits is also flushed as soon as the input pauses)' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l give-up-after -d 'Stop when a batch could not be delivered for this many seconds: exit 1, saying how many rows were not delivered and the input line they start at [default: never]' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l receipts -d 'Report committed messages back to `hl7 listen --ack-after delivered`; default: the address the marks name' -r
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l from -d 'Input format (detected by default: a first `{` is NDJSON, else CSV)' -r -f -a "ndjson\t'One flat JSON object a line'
csv\t'Comma-separated values with a header line'"
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l dry-run -d 'Write the ILP text to stdout instead'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l wide -d 'With --map: the rows are flatten\'s --wide rows (one per message), not its long ones'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l print-ddl -d 'Print the QuestDB CREATE TABLE with DEDUP UPSERT KEYS for the table, so replays are idempotent'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand ilp" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -l dir -d 'Write the scripts for every shell (or the one named) into DIR' -r -F
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand completions" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand man" -s q -l quiet -d 'Print no warnings (errors are still printed)'
complete -c hl7 -n "__fish_hl7_using_subcommand man" -l progress -d 'Show a progress bar on stderr even when stderr is not a terminal'
complete -c hl7 -n "__fish_hl7_using_subcommand man" -l stats -d 'Print counters to stderr every second and at the end'
complete -c hl7 -n "__fish_hl7_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c hl7 -n "__fish_hl7_using_subcommand man" -s V -l version -d 'Print version'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "listen" -d 'Receive HL7 over MLLP, ACK each message, write them to stdout'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "send" -d 'Send HL7 messages over MLLP and check each ACK'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "simulate" -d 'Generate realistic, seeded HL7 traffic'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "parse" -d 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "ack" -d 'Build one ACK (or NAK) for each input message'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "convert" -d 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "flatten" -d 'Turn OBX observations into flat rows (NDJSON or CSV)'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "ilp" -d 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "completions" -d 'Print a shell completion script (or write all of them with --dir)'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "man" -d 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1'
complete -c hl7 -n "__fish_hl7_using_subcommand help; and not __fish_seen_subcommand_from listen send simulate parse ack convert flatten ilp completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
