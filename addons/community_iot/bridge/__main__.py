# This file is part of the community OS project. The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""community-iot-bridge -c trytond.conf -d DATABASE

Runs the MQTT bridge: messages in (batched transactions, ack after
commit), commands out (outbox). SIGTERM/SIGINT stop it cleanly: the
current batch is committed and acknowledged, ``offline`` is published on
the status topic.
"""
import argparse
import logging
import signal
import sys

from trytond import config


def main(argv=None):
    parser = argparse.ArgumentParser(prog='community-iot-bridge')
    parser.add_argument('-c', '--config', required=True,
        help="trytond configuration file (section [community_iot])")
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('-v', '--verbose', action='count', default=0)
    parser.add_argument('--trace', help="write commit times and message "
        "keys of each batch to this file (benchmarks)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][
            min(args.verbose, 2)],
        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    config.update_etc(args.config)

    from trytond.pool import Pool
    from .config import load
    from .client import Client
    from .inbox import Inbox
    from .outbox import Outbox

    conf = load()
    if not conf.host:
        sys.exit("community-iot-bridge: [community_iot] host is not set")
    Pool.start()
    pool = Pool(args.database)
    pool.init()

    holder = {}
    client = Client(conf, on_published=lambda mid, rc:
        holder['outbox'].on_published(mid, rc))
    outbox = holder['outbox'] = Outbox(args.database, client, conf)
    trace = open(args.trace, 'a') if args.trace else None
    inbox = Inbox(args.database, client, conf, trace=trace, outbox=outbox)

    def stop(signum, frame):
        logging.getLogger(__name__).info("stopping (signal %s)", signum)
        inbox.running = False
        outbox.running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    client.start()
    outbox.start()
    logging.getLogger(__name__).info("bridge %s for database %s on %s:%s",
        conf.client_id, args.database, conf.host, conf.port)
    try:
        inbox.run()
    finally:
        client.stop()
        if trace:
            trace.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
