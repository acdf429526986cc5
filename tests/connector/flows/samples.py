"""Log lines in the shapes FortiGate and BIG-IP really send (field order, quoting, headers as in
the vendors' documentation and public parser fixtures), with this test suite's own values."""

# FortiOS `format default`: <PRI> then the body, no RFC 3164 time or host. Implicit deny (policyid=0).
FORTIOS_DENY = (
    '<189>date=2026-05-02 time=08:31:47 devname="fgt-edge" devid="FG100E0000000001" '
    'eventtime=1777703507143815633 tz="+0200" logid="0000000013" type="traffic" subtype="forward" '
    'level="notice" vd="root" srcip=10.20.0.6 srcname="build runner 7" srcport=61031 srcintf="port2" '
    'srcintfrole="lan" dstip=203.0.113.18 dstport=7680 dstintf="port1" dstintfrole="wan" '
    'srccountry="Reserved" dstcountry="Reserved" sessionid=214919072 proto=6 action="deny" policyid=0 '
    'policytype="policy" service="tcp/7680" trandisp="noop" duration=0 sentbyte=0 rcvdbyte=0 '
    'sentpkt=0 rcvdpkt=0 appcat="unscanned" crscore=30 craction=131072 crlevel="high"'
)
# FortiOS 6.x/7.x forward END (close), no tz, eventtime in nanoseconds, no syslog header at all.
FORTIOS_CLOSE = (
    'date=2026-05-10 time=11:37:47 logid="0000000013" type="traffic" subtype="forward" level="notice" '
    'vd="vdom1" eventtime=1778438267369913239 srcip=10.20.1.11 srcport=58012 srcintf="port12" '
    'srcintfrole="undefined" dstip=198.51.100.35 dstport=80 dstintf="port11" dstintfrole="undefined" '
    'srcuuid="ae28f494-5735-51e9-f247-d1d2ce663f4b" dstuuid="ae28f494-5735-51e9-f247-d1d2ce663f4b" '
    'poluuid="ccb269e0-5735-51e9-a218-a397dd08b7eb" sessionid=105048 proto=6 action="close" policyid=1 '
    'policytype="policy" service="HTTP" dstcountry="Reserved" srccountry="Reserved" trandisp="snat" '
    'duration=10 sentbyte=4132 rcvdbyte=8281 sentpkt=17 rcvdpkt=15 appcat="unscanned"'
)
# Interim STAT log of a named policy, UDP, tz -0500.
FORTIOS_NAMED = (
    '<189>date=2026-04-23 time=12:11:51 devname="fgt-branch" devid="FG200F0000000002" '
    'logid="0000000020" type="traffic" subtype="forward" level="notice" vd="root" '
    'eventtime=1776964311390385486 tz="-0500" srcip=10.20.2.10 srcport=6000 srcintf="port2" '
    'srcintfrole="lan" dstip=192.0.2.53 dstport=53 dstintf="port1" dstintfrole="wan" '
    'sessionid=8812 proto=17 action="accept" policyid=3426 policytype="policy" '
    'poluuid="1765de8-5a13-765da73fdsfa1c" policyname="fc.prod-eu1.shop.allow-dns" service="DNS" '
    'trandisp="noop" duration=180 sentbyte=120 rcvdbyte=240 sentpkt=2 rcvdpkt=2'
)
# FortiOS `format rfc5424`: the header carries time and host, the body has no date/time/devname.
FORTIOS_RFC5424 = (
    '<189>1 2026-11-14T06:54:03.120Z fgt-dmz-02 - - - - eventtime=1794639243120000000 tz="-0800" '
    'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip=10.20.3.4 '
    'srcport=40000 dstip=203.0.113.80 dstport=443 proto=6 action="timeout" policyid=12 '
    'policytype="policy" service="HTTPS"'
)
# A UTM (web filter) log in the rfc5424 shape: not a flow.
FORTIOS_UTM = (
    '<165>1 2026-11-14T06:54:03Z fgt-dmz-02 - - - - eventtime=1794639242876531561 tz="-0800" '
    'logid="0317013312" type="utm" subtype="webfilter" eventtype="ftgd_blk" level="warning" '
    'vd="root" policyid=4 srcip=10.20.3.4 dstip=203.0.113.9 action="blocked"'
)
# FortiOS `format cef`, relayed with an RFC 3164 header ("CEF: 0" with a space).
FORTIOS_CEF = (
    'Dec 27 11:07:55 FGT-A-LOG CEF: 0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward close|3|'
    'deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0000000013 cat=traffic:forward '
    'FTNTFGTsubtype=forward FTNTFGTlevel=notice FTNTFGTvd=vdom1 FTNTFGTeventtime=1766862475 '
    'src=10.20.1.11 spt=54190 deviceInboundInterface=port12 FTNTFGTsrcintfrole=undefined '
    'deviceOutboundInterface=port11 FTNTFGTdstintfrole=undefined dst=198.51.100.235 dpt=443 '
    'externalId=22811 proto=6 act=close FTNTFGTpolicyid=1 FTNTFGTpolicytype=policy '
    'FTNTFGTpoluuid=ccb269e0-5735-51e9-a218-a397dd08b7eb app=HTTPS'
)
# FortiOS 5.6 CEF: "CEF:0" without the space, the policy id in cs5.
FORTIOS_CEF_56 = (
    '<185>CEF:0|Fortinet|Fortigate|v5.6.3|00013|traffic:forward deny|3|src=10.20.4.4 spt=1234 '
    'dst=192.0.2.7 dpt=22 proto=6 act=deny cs5=9 cs5Label=Policy Id rt=1766862475000'
)

# BIG-IP AFM, `rfc5424` destination behind a relay's RFC 3164 prefix: fields in structured data,
# the message is the comma-separated 4-tuple.
AFM_RFC5424 = (
    'Mar 15 12:24:32 10.99.5.207 1 2026-03-14T20:24:34-07:00 bigip-dc1.example tmm 14807 23003137 '
    '[F5@12276 acl_policy_name="/Common/fc_prod_eu1" acl_policy_type="Enforced" '
    'acl_rule_name="fc_shop_deny_all" action="Reject" hostname="bigip-dc1.example" '
    'bigip_mgmt_ip="10.99.88.207" context_name="" context_type="Global" '
    'date_time="Mar 14 2026 20:24:33" dest_ip="203.0.113.251" dst_geo="No-lookup" dest_port="5353" '
    'device_product="Advanced Firewall Module" device_vendor="F5" device_version="" '
    'drop_reason="Policy" errdefs_msgno="23003137" errdefs_msg_name="Network Event" '
    'flow_id="0000000000000000" ip_protocol="UDP" severity="8" partition_name="Common" '
    'route_domain="0" sa_translation_pool="" sa_translation_type="" source_fqdn="" '
    'source_ip="10.30.5.239" src_geo="No-lookup" source_port="5353" source_user="" '
    'source_user_group="" translated_dest_ip="" translated_dest_port="" translated_ip_protocol="" '
    'translated_route_domain="" translated_source_ip="" translated_source_port="" '
    'translated_vlan="" vlan="/Common/external"] 203.0.113.251,10.30.5.239,5353,5353'
)
# BIG-IP "Splunk" destination: comma-separated key="value" pairs, no syslog header, ISO time.
AFM_SPLUNK = (
    'action="Accept",hostname="bigip-dc1.example",bigip_mgmt_ip="10.201.198.70",'
    'context_name="/Common/vs_egress",date_time="2026-12-18T03:37:19.000Z",dest_ip="198.51.100.140",'
    'dest_port="80",device_product="Advanced Firewall Module",device_vendor="F5",'
    'device_version="17.1.0",drop_reason="",errdefs_msgno="23003137",errdefs_msg_name="Network Event",'
    'flow_id="0000000000000001",ip_protocol="TCP",severity="8",partition_name="Common",route_domain="0",'
    'acl_rule_name="fc_shop_allow_payments",source_ip="10.30.10.210%2",source_port="9607",'
    'vlan="/Common/internal"'
)
# The DoS event shape of the Splunk destination, its middle fields cut (no ip_protocol).
AFM_DOS_TRUNCATED = (
    'action="Allow",hostname="bigip1.example",bigip_mgmt_ip="10.201.198.70",'
    'context_name="/Common/10.10.10.140",date_time="2026-12-18T03:37:19.000Z",'
    'dest_ip="10.10.10.140",dest_port="80",device_product="Advanced Firewall Module",'
    'device_vendor="F5",device_version="13.1.1.0.0.4",errdefs_msgno="23003138",'
    'errdefs_msg_name="Network DoS Event",route_domain="0",source_ip="10.10.10.210",'
    'source_port="9607",vlan="/Common/internal"'
)
# The field list in the documented order, values quoted.
AFM_FIELD_LIST = (
    '"/Common/app","Enforced","ping","Drop","bigip-dc1.example","10.0.1.100",'
    '"/Common/app.app/app_vs","Virtual Server","Dec 17 2026 22:46:04","unknown","10.0.2.101","Unknown",'
    '"80","Advanced Firewall Module","F5","17.1.0","Policy","23003137","Network Event",'
    '"0000000000000000","TCP","8","Common","0","","","unknown","10.30.82.144","US/Washington",'
    '"62204","unknown","unknown","","","","","","","","/Common/external",""'
)
# AFM through an RFC 3164 header (tag tmm[pid]), Splunk-style body.
AFM_RFC3164 = '<134>Dec  6 16:00:01 bigip-dc1 tmm[14807]: ' + AFM_SPLUNK
