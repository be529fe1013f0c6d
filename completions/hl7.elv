
use builtin;
use str;

set edit:completion:arg-completer[hl7] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'hl7'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'hl7'= {
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand listen 'Receive HL7 over MLLP, ACK each message, write them to stdout'
            cand send 'Send HL7 messages over MLLP and check each ACK'
            cand simulate 'Generate realistic, seeded HL7 traffic'
            cand parse 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)'
            cand ack 'Build one ACK (or NAK) for each input message'
            cand convert 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text'
            cand flatten 'Turn OBX observations into flat rows (NDJSON or CSV)'
            cand ilp 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol'
            cand completions 'Print a shell completion script (or write all of them with --dir)'
            cand man 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'hl7;listen'= {
            cand --to 'Output: hl7 (segments joined by \r, a \n after each message), ndjson, or mllp (framed)'
            cand --ack-after 'When to send AA: once written (and fsynced where it is a file or the archive), or once `hl7 ilp` at the end of the pipeline reports the message''s rows committed'
            cand --receipts 'With --ack-after delivered: the loopback address where `hl7 ilp` sends receipts (the marks name it, so ilp needs no flag) [default: 127.0.0.1:0, a free port]'
            cand --channel 'Name a channel: NAME=ADDR'
            cand --archive 'Append each message durably (fsync) to files under DIR before it is ACKed'
            cand --archive-layout 'Archive file layout: strftime and field paths'
            cand --ack-mode 'ACK mode: auto honours MSH-15/MSH-16; original (AA/AE/AR); enhanced (CA/CE/CR); none'
            cand --app 'MSH-3 of the ACKs sent'
            cand --facility 'MSH-4 of the ACKs sent'
            cand --max-message-size 'Frames larger than this get a NAK and are discarded'
            cand --idle-timeout 'Close connections idle this long (seconds)'
            cand --max-connections 'Most connections served at once'
            cand --allow 'Accept connections only from these networks'
            cand --count 'Exit 0 after N messages have been received, written and ACKed'
            cand --tls-cert 'MLLP over TLS: certificate chain (PEM)'
            cand --tls-key 'MLLP over TLS: private key (PEM)'
            cand --tls-client-ca 'Mutual TLS: accept only clients with a certificate signed by this CA (PEM)'
            cand --meta 'With --to ndjson: add received time, peer, channel, control id and ACK code, and the raw message'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;send'= {
            cand --to 'Results: ndjson ({"n","control_id","ack","latency_ms","error"}), hl7 (the ACKs), none'
            cand --timeout 'Seconds to wait for each ACK (and for each connection to open)'
            cand --retries 'Retries per message, with backoff (0.5 s, doubling, at most 30 s)'
            cand --rate 'Pace sending: N messages per second (N/s; also N/min, N/h)'
            cand --speed 'With --replay: play faster (2) or slower (0.5)'
            cand --count 'Stop after N messages (with --loop: N in all)'
            cand --connections 'Parallel connections (messages dealt round-robin; order is kept per connection)'
            cand --window 'Messages in flight per connection (1-4096): write up to N ahead while their ACKs are outstanding, each ACK matched to its message by MSA-2 whatever order they come in. Results stay in input order. 1 (the default) waits for each ACK before the next message'
            cand --ca 'With --tls: the CA certificates to trust (PEM), instead of the system''s store'
            cand --cert 'With --tls: client certificate chain (PEM), for mutual TLS'
            cand --key 'With --tls: the client certificate''s private key (PEM)'
            cand --tls-server-name 'With --tls: the name the server''s certificate must bear (default: the host of ADDR)'
            cand --from 'Input format, instead of detecting it'
            cand --pass 'Write each accepted message to stdout instead of a result, so send can sit mid-pipeline like tee'
            cand --retry-rejected 'Retry AR/CR rejections too (AE/CE are never retried: the data must be fixed)'
            cand --replay 'Pace by the original gaps (listen --meta received times, else MSH-7)'
            cand --loop 'Repeat the input (needs --rate, --replay or --count)'
            cand --connection-per-message 'Open a fresh connection for each message and close it after the ACK'
            cand --no-ack 'Fire and forget: do not wait for ACKs'
            cand --strict 'Stop at the first invalid input message (exit 1)'
            cand --tls 'MLLP over TLS'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;simulate'= {
            cand --profile 'Traffic profile'
            cand --count 'Number of messages (default 100, or unlimited with --rate)'
            cand --rate 'Pace the output: messages per second (20/s, 0.5/s), per minute (30/min) or per hour (2/h)'
            cand --seed 'Random seed: the same seed (and --start) gives the same bytes; default: a fresh one, shown with --stats'
            cand --devices 'Number of devices, each with its own identity and trend (vent, monitor)'
            cand --patients 'Size of the patient population'
            cand --start 'Clock of the first message: RFC 3339 (2024-08-14T11:46:36+02:00) or HL7 (20240814114636)'
            cand --attachment-size 'With --profile mdm: pad each PDF attachment to this size (bytes, or with kB, KiB, MB, MiB)'
            cand --version 'HL7 version to write in MSH-12 (default: the profile''s own)'
            cand --to 'Output: hl7 (segments ended by \r, a \n after each message), mllp (framed), ndjson'
            cand --from-file 'With --profile cycle: the messages to cycle through (HL7, MLLP capture or NDJSON)'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'hl7;parse'= {
            cand --to 'Output format: ndjson (lossless JSON, one message a line), csv, table (for humans), hl7'
            cand --shape 'NDJSON shape: segments (lossless, ordered) or paths (one flat object of path: value)'
            cand --select 'Only these values, e.g. MSH-10,PID-3.1; one row per message, or per OBX when a path names OBX'
            cand --from 'Input format, instead of detecting it from the first bytes'
            cand --dot-style 'How to read a dot path with three numbers such as PID.1.5.1 (refused by default)'
            cand --strict 'Stop at the first invalid message (exit 1)'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;ack'= {
            cand --code 'Acknowledgment code'
            cand --text 'Text for MSA-3 / ERR'
            cand --error-code 'Error code for ERR (HL7 table 0357, e.g. 207)'
            cand --mode 'original (AA/AE/AR) or enhanced (CA/CE/CR)'
            cand --app 'MSH-3 of the ACKs'
            cand --facility 'MSH-4 of the ACKs'
            cand --to 'Output format'
            cand --from 'Input format, instead of detecting it'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;convert'= {
            cand --template 'Template file (.hl7: HL7 output, .json: JSON output, other: text)'
            cand --to 'Without a template: hl7 (NDJSON back to HL7) or ndjson (as hl7 parse)'
            cand --output 'Write each rendering to its own file: strftime (%Y %m %d %H %M %S) and field paths, e.g. ''patients/patient_{PID-3.1}.json'''
            cand --escape 'How inserted values are escaped (default from the template''s extension: .hl7 hl7, .json json, other none)'
            cand --from 'Input format, instead of detecting it'
            cand --append 'With --output: append to the files (one record a line), instead of replacing them'
            cand --strict 'A missing value is an error (message number, path), and a rendering with a missing value or a failed filter is not written; the other messages are still converted (exit code 1)'
            cand --legacy-placeholders 'Also accept the {S-F} index placeholders of the old broker script: segment S (0-based), field F of the segment split by ''|'' (so {0-9} is MSH-10)'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;flatten'= {
            cand --map 'The TOML map of variables, bitfields, tags and the table name'
            cand --to 'Output format: ndjson (typed JSON, one row a line) or csv (with a header line)'
            cand --tz 'Time zone of HL7 times without an offset (IANA name such as Europe/Oslo; overrides the map''s timezone; default UTC)'
            cand --from 'Input format, instead of detecting it'
            cand --wide 'One row per message, one column per variable (the shape that suits QuestDB)'
            cand --long 'One row per observation (the default)'
            cand --check 'Check the map (and --tz), print its columns with their types and exit'
            cand --strict 'Stop at the first invalid message or misfit value (exit 1)'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;ilp'= {
            cand --input 'Input file (repeat for several); stdin when none or -'
            cand --map 'The flatten map the rows were made with: table, symbols, timestamp, column types and deduplication keys (flags override it)'
            cand --table 'Table name [default: observations]'
            cand --symbols 'Columns written as symbols (tags)'
            cand --timestamp 'The designated timestamp column: RFC 3339 text or epoch nanoseconds [default: ts]'
            cand --batch-rows 'Flush after this many rows (a busy input, always ready, goes out in batches this big; whatever waits is also flushed as soon as the input pauses)'
            cand --batch-ms 'Flush rows that have waited this many milliseconds, also while the input keeps coming (whatever waits is also flushed as soon as the input pauses)'
            cand --give-up-after 'Stop when a batch could not be delivered for this many seconds: exit 1, saying how many rows were not delivered and the input line they start at [default: never]'
            cand --receipts 'Report committed messages back to `hl7 listen --ack-after delivered`; default: the address the marks name'
            cand --from 'Input format (detected by default: a first `{` is NDJSON, else CSV)'
            cand --dry-run 'Write the ILP text to stdout instead'
            cand --wide 'With --map: the rows are flatten''s --wide rows (one per message), not its long ones'
            cand --print-ddl 'Print the QuestDB CREATE TABLE with DEDUP UPSERT KEYS for the table, so replays are idempotent'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;completions'= {
            cand --dir 'Write the scripts for every shell (or the one named) into DIR'
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;man'= {
            cand -q 'Print no warnings (errors are still printed)'
            cand --quiet 'Print no warnings (errors are still printed)'
            cand --progress 'Show a progress bar on stderr even when stderr is not a terminal'
            cand --stats 'Print counters to stderr every second and at the end'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'hl7;help'= {
            cand listen 'Receive HL7 over MLLP, ACK each message, write them to stdout'
            cand send 'Send HL7 messages over MLLP and check each ACK'
            cand simulate 'Generate realistic, seeded HL7 traffic'
            cand parse 'Parse HL7 into NDJSON, CSV, a table or normalized HL7 (and NDJSON back into HL7)'
            cand ack 'Build one ACK (or NAK) for each input message'
            cand convert 'Rewrite messages through a template: HL7 to HL7, HL7 to JSON, JSON to HL7, any text'
            cand flatten 'Turn OBX observations into flat rows (NDJSON or CSV)'
            cand ilp 'Write rows (NDJSON or CSV) to QuestDB over InfluxDB Line Protocol'
            cand completions 'Print a shell completion script (or write all of them with --dir)'
            cand man 'Write the man pages (hl7.1 and hl7-<command>.1) into DIR, or print hl7.1'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'hl7;help;listen'= {
        }
        &'hl7;help;send'= {
        }
        &'hl7;help;simulate'= {
        }
        &'hl7;help;parse'= {
        }
        &'hl7;help;ack'= {
        }
        &'hl7;help;convert'= {
        }
        &'hl7;help;flatten'= {
        }
        &'hl7;help;ilp'= {
        }
        &'hl7;help;completions'= {
        }
        &'hl7;help;man'= {
        }
        &'hl7;help;help'= {
        }
    ]
    $completions[$command]
}
